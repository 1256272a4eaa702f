"""Matching the fund's settlement detail to recorded visits, and what the backstop owes.

The fund's share computed when a visit is recorded is this system's
*expectation*; the insurance platform's settlement detail is the *truth* of
what the fund paid (SPEC §7).  For each programme visit::

    adjustment = fund_computed - fund_actually_paid

A positive adjustment is owed by the district (its backstop grows), a
negative one reduces it.  A recorded visit is never edited and the patient's
share never changes: adjustments are separate, append-only lines.

Guarantees of this module (pure: no Flask, no SQLAlchemy, no clock):

* every settlement row gets exactly one finding, and so does every visit that
  was expected to be settled (insured, with a computed fund share) or that a
  row names — nothing is dropped silently;
* a row is matched to a visit the way the fund keys it (SPEC §7), always
  within the clinic's insurance institution code: the platform's ``mdtrt_id``
  (resolved by the caller to the visit's receipt), then the platform's
  ``setl_id`` (likewise), then the clinic's own number (``medins_setl_id``,
  sent as ``ipt_otp_no``, or an ``mdtrt_id`` that is the receipt number), and
  only then the ID number, the date within ``tolerance`` days and the amount —
  and only when exactly one visit fits.  A match on a number is confirmed by
  the ID number (and, for the receipt in ``mdtrt_id``, the date); an
  unconfirmed match is reported, never used to move money;
* the reason for a different amount is read from the platform's own columns
  (a refund flag, the price ceiling, the self-paid part, medical assistance),
  not guessed;
* reversed settlements (negative rows) cancel a settlement of the same visit;
  a visit settled more than once (net of reversals) is a ``duplicate``, and
  only one settlement counts towards what the fund paid — the extra payment is
  the fund's to recover, not a reduction of the district's backstop;
* :func:`adjustment_delta` is idempotent: it returns what is still owed after
  the adjustments already booked for the visit, so re-running a
  reconciliation, or importing the same file twice, books nothing new.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from app.localtime import local_date

# A settlement may be made after midnight for a visit in the evening, or the
# next morning when the network was down: one day either side still confirms.
# The policy's ``settlement_date_tolerance_days`` overrides it per district.
DATE_TOLERANCE = dt.timedelta(days=1)


class Outcome(StrEnum):
    MATCHED = "matched"  # matched, the fund paid what was computed
    DIFFERENT = "different"  # matched, a different fund amount
    UNKNOWN = "unknown"  # settled by the fund but not known (or not confirmed) here
    NOT_SETTLED = "not_settled"  # recorded here, never settled or reversed by the fund
    DUPLICATE = "duplicate"  # settled more than once


class Reason(StrEnum):
    EQUAL = "equal"
    PRICE = "price_difference"  # the fund priced the visit differently
    LAPSED = "insurance_lapsed"  # the fund paid nothing: not insured on the platform
    DEDUCTIBLE = "deductible_difference"
    CAP_OR_RATIO = "cap_or_ratio_difference"  # same fees, a different fund share
    NEVER_SETTLED = "never_settled"
    REVERSED = "reversed"
    DUPLICATE = "duplicate_settlement"
    NO_SUCH_RECEIPT = "no_such_receipt"
    UNKNOWN_CLINIC = "unknown_clinic"
    ID_MISMATCH = "id_mismatch"
    DATE_MISMATCH = "date_mismatch"
    VOIDED_HERE = "voided_here"  # the fund settled a visit this system voided
    # Read from the platform's columns (issue 21):
    REFUND_FLAG = "refund_flag"  # the row carries refd_setl_flag = 1: refunded at the desk
    OVER_CEILING = "over_ceiling"  # overlmt_selfpay > 0: above the fund's ceiling
    SELF_PAY_PART = "self_pay_part"  # the item's self-pay ratio / fully self-paid items
    MEDICAL_ASSISTANCE = "medical_assistance"  # maf_pay: medical assistance paid a part


class MatchedBy(StrEnum):
    MDTRT_ID = "mdtrt_id"
    SETL_ID = "setl_id"
    OWN_NUMBER = "own_number"
    PERSON_DATE_AMOUNT = "person_date_amount"


@dataclass(frozen=True)
class SettlementRow:
    """One row of the fund's settlement detail, money in fen (negative on a reversal)."""

    line: int
    insurance_code: str  # the clinic's insurance institution code (the file's fixmedins_code)
    setl_id: str
    mdtrt_id: str  # the visit's own reference: our receipt number
    certno: str
    setl_time: dt.datetime
    medfee_sumamt: int
    inscp_scp_amt: int
    act_pay_dedc: int
    hifp_pay: int
    fund_pay_sumamt: int
    psn_cash_pay: int
    # Matched through the platform's own visit id (a real-time settlement): a sure
    # match, so a settlement made days after the visit (补结算) is no date mismatch.
    by_platform_id: bool = False
    # The platform's fuller columns (optional in a file; 0 / "" when absent).
    medins_setl_id: str = ""  # the clinic's own number (ipt_otp_no) as the platform returns it
    psn_no: str = ""
    insutype: str = ""
    med_type: str = ""
    refd_setl_flag: str = ""  # "1": this settlement was refunded
    acct_pay: int = 0
    psn_part_amt: int = 0
    fulamt_ownpay_amt: int = 0
    overlmt_selfpay: int = 0
    preselfpay_amt: int = 0
    hifmi_pay: int = 0
    maf_pay: int = 0
    oth_pay: int = 0
    matched_by: str = ""  # set by the caller when it resolved a platform id (MatchedBy)

    @property
    def reversal(self) -> bool:
        return self.medfee_sumamt < 0 or self.fund_pay_sumamt < 0


@dataclass(frozen=True)
class RecordedVisit:
    """What this system recorded, as the reconciliation needs it."""

    visit_id: int
    clinic_code: str
    insurance_code: str
    receipt_number: str
    id_number: str
    visit_date: dt.date  # Asia/Shanghai
    programme: bool
    insured: bool
    voided: bool
    lines_total: int
    deductible_applied: int
    fund: int  # computed at recording
    in_scope: int | None = None  # the in-scope part as recorded (None: not known)
    # A visit of a neighbouring month that only the last key (person, date, amount)
    # may name: it gets a finding only when a row matches it.
    candidate_only: bool = False


@dataclass(frozen=True)
class Finding:
    outcome: Outcome
    reason: Reason
    clinic_code: str | None
    receipt_number: str
    visit_id: int | None
    fund_computed: int
    fund_paid: int
    # Only a confirmed programme visit moves the backstop; the rest is reported.
    backstopped: bool
    setl_ids: tuple[str, ...] = field(default=())
    matched_by: str = ""  # MatchedBy of the counted row ("" when no row matched)

    @property
    def difference(self) -> int:
        """``fund_computed - fund_paid``: positive when the district owes more."""
        return self.fund_computed - self.fund_paid


def _confirmed(
    visit: RecordedVisit, row: SettlementRow, local_date: dt.date, tolerance: dt.timedelta
) -> Reason | None:
    if row.certno.upper() != visit.id_number.upper():
        return Reason.ID_MISMATCH
    # A reversal is made whenever the error is found, days or weeks later.
    late = abs(local_date - visit.visit_date) > tolerance
    if not row.reversal and not row.by_platform_id and late:
        return Reason.DATE_MISMATCH
    return None


def _difference_reason(visit: RecordedVisit, settled: SettlementRow, paid: int) -> Reason:
    """Why the fund paid ``paid`` instead of the expected fund: the platform's columns say."""
    if paid == visit.fund:
        return Reason.EQUAL
    if paid == 0:
        return Reason.LAPSED
    if settled.medfee_sumamt != visit.lines_total:
        return Reason.PRICE
    if settled.overlmt_selfpay > 0:
        return Reason.OVER_CEILING
    if (settled.fulamt_ownpay_amt > 0 or settled.preselfpay_amt > 0) and (
        visit.in_scope is None or settled.inscp_scp_amt != visit.in_scope
    ):
        return Reason.SELF_PAY_PART
    if settled.maf_pay > 0:
        return Reason.MEDICAL_ASSISTANCE
    if settled.act_pay_dedc != visit.deductible_applied:
        return Reason.DEDUCTIBLE
    return Reason.CAP_OR_RATIO


def _by_person_date_amount(
    row: SettlementRow,
    candidates: list[RecordedVisit],
    taken: set[tuple[str, str]],
    tolerance: dt.timedelta,
) -> RecordedVisit | None:
    """The one free visit of the person within the tolerance with the row's amount, if one."""
    day = local_date(row.setl_time)
    fits = [
        v
        for v in candidates
        if (v.insurance_code, v.receipt_number) not in taken
        and not v.voided
        and v.lines_total == abs(row.medfee_sumamt)
        and abs(day - v.visit_date) <= tolerance
    ]
    if not fits:
        return None
    fits.sort(key=lambda v: (abs(day - v.visit_date), v.visit_id))
    if len(fits) > 1 and abs(day - fits[0].visit_date) == abs(day - fits[1].visit_date):
        return None  # two visits fit as well: no guess
    return fits[0]


def reconcile(
    visits: Iterable[RecordedVisit],
    rows: Iterable[SettlementRow],
    tolerance: dt.timedelta = DATE_TOLERANCE,
) -> list[Finding]:
    """One finding per visit expected or named, and per row that matches no visit.

    ``rows`` are every settlement row ever imported for these visits (a
    reversal may come in a later file than the settlement it cancels).  A
    row's ``mdtrt_id`` is the visit's receipt when the caller resolved the
    platform's ``mdtrt_id`` or ``setl_id`` (``by_platform_id``).
    """
    by_key: dict[tuple[str, str], RecordedVisit] = {}
    by_person: dict[tuple[str, str], list[RecordedVisit]] = defaultdict(list)
    for visit in visits:
        by_key[(visit.insurance_code, visit.receipt_number)] = visit
        by_person[(visit.insurance_code, visit.id_number.upper())].append(visit)
    known_codes = {code for code, _ in by_key}
    rows_of: dict[tuple[str, str], list[SettlementRow]] = defaultdict(list)
    findings: list[Finding] = []
    unnamed: list[SettlementRow] = []

    for row in rows:
        key = (row.insurance_code, row.mdtrt_id)
        named = by_key.get(key)
        if named is not None and not row.matched_by:
            row = replace(row, matched_by=MatchedBy.OWN_NUMBER.value)
        elif named is None and row.medins_setl_id:
            key = (row.insurance_code, row.medins_setl_id)
            named = by_key.get(key)
            if named is not None:
                # The platform returned the clinic's own number: a sure match.
                row = replace(
                    row,
                    mdtrt_id=row.medins_setl_id,
                    by_platform_id=True,
                    matched_by=MatchedBy.OWN_NUMBER.value,
                )
        if named is None and row.insurance_code in known_codes:
            unnamed.append(row)
            continue
        problem: Reason | None
        if named is None:
            problem = Reason.UNKNOWN_CLINIC
        else:
            problem = _confirmed(named, row, local_date(row.setl_time), tolerance)
        if problem is not None:
            findings.append(
                Finding(
                    Outcome.UNKNOWN,
                    problem,
                    named.clinic_code if named else None,
                    row.mdtrt_id,
                    named.visit_id if named else None,
                    0,
                    row.fund_pay_sumamt,
                    False,
                    (row.setl_id,),
                )
            )
            continue
        rows_of[key].append(row)

    # Last: the person, the date (within the tolerance) and the amount, on the
    # visits no number matched; a settlement before its reversal.
    taken = set(rows_of)
    for row in sorted(unnamed, key=lambda r: (r.reversal, r.setl_time, r.line)):
        candidates = by_person.get((row.insurance_code, row.certno.upper()), [])
        if row.reversal:
            # A reversal follows its settlement: the visit that settlement matched.
            fit = next(
                (
                    v
                    for v in candidates
                    if any(
                        r.matched_by == MatchedBy.PERSON_DATE_AMOUNT.value
                        and r.medfee_sumamt == -row.medfee_sumamt
                        for r in rows_of.get((v.insurance_code, v.receipt_number), [])
                    )
                ),
                None,
            )
        else:
            fit = _by_person_date_amount(row, candidates, taken, tolerance)
        if fit is None:
            findings.append(
                Finding(
                    Outcome.UNKNOWN,
                    Reason.NO_SUCH_RECEIPT,
                    None,
                    row.mdtrt_id,
                    None,
                    0,
                    row.fund_pay_sumamt,
                    False,
                    (row.setl_id,),
                )
            )
            continue
        key = (fit.insurance_code, fit.receipt_number)
        taken.add(key)
        rows_of[key].append(
            replace(
                row,
                mdtrt_id=fit.receipt_number,
                by_platform_id=True,
                matched_by=MatchedBy.PERSON_DATE_AMOUNT.value,
            )
        )

    for key, visit in by_key.items():
        settled = rows_of.get(key, [])
        if visit.candidate_only and not settled:
            continue
        findings.append(_visit_finding(visit, settled))
    return findings


def _visit_finding(visit: RecordedVisit, rows: Sequence[SettlementRow]) -> Finding:
    settlements = [r for r in rows if not r.reversal]
    reversals = [r for r in rows if r.reversal]
    net = len(settlements) - len(reversals)

    def finding(
        outcome: Outcome, reason: Reason, computed: int, paid: int, backed: bool
    ) -> Finding:
        return Finding(
            outcome,
            reason,
            visit.clinic_code,
            visit.receipt_number,
            visit.visit_id,
            computed,
            paid,
            backed,
            tuple(r.setl_id for r in rows),
            next((r.matched_by for r in rows if r.matched_by), ""),
        )

    if visit.voided:
        # Voided here: nothing is owed for it; a live settlement is the fund's to reverse.
        paid = sum(r.fund_pay_sumamt for r in rows)
        if net > 0:
            return finding(Outcome.UNKNOWN, Reason.VOIDED_HERE, 0, paid, False)
        return finding(Outcome.MATCHED, Reason.EQUAL, 0, paid, False)
    backstopped = visit.programme
    if net <= 0:
        if visit.fund == 0 and not settlements:
            # Nothing expected from the fund, nothing paid.
            return finding(Outcome.MATCHED, Reason.EQUAL, 0, 0, backstopped)
        reason = Reason.REVERSED if settlements else Reason.NEVER_SETTLED
        return finding(Outcome.NOT_SETTLED, reason, visit.fund, 0, backstopped)
    # The latest settlement that no reversal cancelled is the one that counts.
    cancelled = {r.setl_id for r in reversals}
    live = [r for r in settlements if r.setl_id not in cancelled] or settlements
    counted = sorted(live, key=lambda r: (r.setl_time, r.line))[-1]
    paid = counted.fund_pay_sumamt
    if net > 1:
        return finding(Outcome.DUPLICATE, Reason.DUPLICATE, visit.fund, paid, backstopped)
    if counted.refd_setl_flag == "1":
        # Refunded at the platform's desk (the flag, its negative row not in hand):
        # the fund keeps nothing of this settlement.
        return finding(Outcome.NOT_SETTLED, Reason.REFUND_FLAG, visit.fund, 0, backstopped)
    reason = _difference_reason(visit, counted, paid)
    outcome = Outcome.MATCHED if reason is Reason.EQUAL else Outcome.DIFFERENT
    return finding(outcome, reason, visit.fund, paid, backstopped)


def adjustment_delta(finding: Finding, already_adjusted: int) -> int:
    """What the backstop still owes (+) or is owed (−) for the visit after earlier adjustments."""
    if not finding.backstopped or finding.visit_id is None:
        return 0
    return finding.difference - already_adjusted
