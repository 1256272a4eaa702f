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
* a row is matched to a visit by the clinic's insurance institution code and
  the receipt number (``mdtrt_id``), and the match is confirmed by the ID
  number and the settlement date; an unconfirmed match is reported, never
  used to move money;
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
from dataclasses import dataclass, field
from enum import StrEnum

from app.localtime import local_date

# A settlement may be made after midnight for a visit in the evening, or the
# next morning when the network was down: one day either side still confirms.
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

    @property
    def difference(self) -> int:
        """``fund_computed - fund_paid``: positive when the district owes more."""
        return self.fund_computed - self.fund_paid


def _confirmed(visit: RecordedVisit, row: SettlementRow, local_date: dt.date) -> Reason | None:
    if row.certno.upper() != visit.id_number.upper():
        return Reason.ID_MISMATCH
    # A reversal is made whenever the error is found, days or weeks later.
    late = abs(local_date - visit.visit_date) > DATE_TOLERANCE
    if not row.reversal and not row.by_platform_id and late:
        return Reason.DATE_MISMATCH
    return None


def _difference_reason(visit: RecordedVisit, settled: SettlementRow, paid: int) -> Reason:
    if paid == visit.fund:
        return Reason.EQUAL
    if paid == 0:
        return Reason.LAPSED
    if settled.medfee_sumamt != visit.lines_total:
        return Reason.PRICE
    if settled.act_pay_dedc != visit.deductible_applied:
        return Reason.DEDUCTIBLE
    return Reason.CAP_OR_RATIO


def reconcile(visits: Iterable[RecordedVisit], rows: Iterable[SettlementRow]) -> list[Finding]:
    """One finding per visit expected or named, and per row that matches no visit.

    ``rows`` are every settlement row ever imported for these visits (a
    reversal may come in a later file than the settlement it cancels).
    """
    by_key: dict[tuple[str, str], RecordedVisit] = {}
    for visit in visits:
        by_key[(visit.insurance_code, visit.receipt_number)] = visit
    known_codes = {code for code, _ in by_key}
    rows_of: dict[tuple[str, str], list[SettlementRow]] = defaultdict(list)
    findings: list[Finding] = []

    for row in rows:
        key = (row.insurance_code, row.mdtrt_id)
        named = by_key.get(key)
        problem: Reason | None
        if named is None:
            known = row.insurance_code in known_codes
            problem = Reason.NO_SUCH_RECEIPT if known else Reason.UNKNOWN_CLINIC
        else:
            problem = _confirmed(named, row, local_date(row.setl_time))
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

    for key, visit in by_key.items():
        settled = rows_of.get(key, [])
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
    reason = _difference_reason(visit, counted, paid)
    outcome = Outcome.MATCHED if reason is Reason.EQUAL else Outcome.DIFFERENT
    return finding(outcome, reason, visit.fund, paid, backstopped)


def adjustment_delta(finding: Finding, already_adjusted: int) -> int:
    """What the backstop still owes (+) or is owed (−) for the visit after earlier adjustments."""
    if not finding.backstopped or finding.visit_id is None:
        return 0
    return finding.difference - already_adjusted
