"""The split engine: who pays what for one visit (SPEC §3).

Guarantees, for every result of :func:`compute_split`:

* ``total = patient + fund + fiscal`` exactly, with
  ``total = Σ line amounts + registration + injection`` and every part ≥ 0
  (the same identity is a CHECK constraint on the ``visit`` table);
* ``fund`` never exceeds the per-visit cap nor what is left of the annual cap;
* the result depends only on the arguments: no database, no clock, no Flask.

All money is integer fen; the only rounding is :func:`app.money.round_fen`
(ROUND_HALF_UP), applied once per line amount, once per line's ceiling
(``price_ceiling × quantity``), once per covered part (``(amount − over) ×
(1 − r)``) and once to the fund share.  The fiscal backstop is the exact
remainder, so the identity holds by construction rather than by luck.

The national catalogue's per-item fields (SPEC §2.1, §3.1, §3.3): the part of a
line above its payment ceiling (``over``) is never in the fund base, and in
scope only when the policy backstops it (``over_ceiling_backstopped``); an
item's own self-pay ratio replaces the policy's class-B ratio, and
``class_b_selfpay_backstopped`` covers every item's self-pay part.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from app.errors import InvalidInput, Problem, ProblemCode
from app.money import apply_ratio, line_amount
from app.policy.rules import Policy

ONE = 1000  # a quantity of exactly 1, in thousandths
# Bounds that no village-clinic visit comes near; they keep a typo (or a hostile
# client) from producing amounts the integer money columns cannot hold.
MAX_QUANTITY = 9_999_999  # 9999.999 units on one line
MAX_AMOUNT = 100_000_000  # 1,000,000.00 yuan for one line or one visit


class Kind(StrEnum):
    CONSULTATION = "consultation"
    DRUG = "drug"
    SERVICE = "service"
    MATERIAL = "material"


class InsuranceClass(StrEnum):
    A = "A"  # 甲类
    B = "B"  # 乙类
    C = "C"  # 丙类 / 自费


class Reason(StrEnum):
    """Why a visit is not a programme visit (or not insured). Stable codes."""

    NO_POLICY = "no_policy"
    UNKNOWN_RESIDENT = "unknown_resident"
    OTHER_DISTRICT = "other_district"
    NOT_VILLAGE_HUKOU = "not_village_hukou"
    CLINIC_NOT_IN_PROGRAMME = "clinic_not_in_programme"
    NOT_INSURED = "not_insured"
    # The register records the patient's death on or before the visit date: no
    # visit at all, programme or not (SPEC §2, ``died_on``).
    DECEASED = "deceased"


# --- diagnoses ---------------------------------------------------------------


def diagnosis_pairs(codes: str, names: str) -> list[tuple[str, str]]:
    """A visit's stored diagnoses (codes comma-, names tab-separated) as (code, name) pairs."""
    name_list = names.split("\t") if names else []
    return [
        (code, name_list[i] if i < len(name_list) else "")
        for i, code in enumerate(c for c in codes.split(",") if c)
    ]


def diagnosis_text(codes: str, names: str) -> str:
    """``J06.900 急性上呼吸道感染；I10.x00 高血压``: the main one first, as lists print them."""
    return "；".join(f"{code} {name}".strip() for code, name in diagnosis_pairs(codes, names))


# --- eligibility -------------------------------------------------------------


def clinic_in_programme(joined_on: dt.date | None, left_on: dt.date | None, day: dt.date) -> bool:
    """In the programme on ``day`` when joined_on ≤ day and (no left_on or day < left_on)."""
    return joined_on is not None and joined_on <= day and (left_on is None or day < left_on)


def insurance_active(
    insurance_type: str | None,
    insured_from: dt.date | None,
    insured_to: dt.date | None,
    day: dt.date,
) -> bool:
    """Enrolled (``resident`` or ``employee``) on ``day``; both dates inclusive."""
    if insurance_type not in ("resident", "employee") or insured_from is None:
        return False
    return insured_from <= day and (insured_to is None or day <= insured_to)


@dataclass(frozen=True)
class PatientFacts:
    """What the register says about the patient on the visit date."""

    known: bool
    hukou_district: str | None = None
    hukou_kind: str | None = None  # "village" | "community"
    insured: bool = False
    died_on: dt.date | None = None  # the register's date of death, when on or before the day


@dataclass(frozen=True)
class ClinicFacts:
    district: str
    in_programme: bool


@dataclass(frozen=True)
class Eligibility:
    programme: bool
    insured: bool
    reasons: tuple[Reason, ...]
    died_on: dt.date | None = None  # set with Reason.DECEASED: no visit may be recorded


def assess_eligibility(
    policy: Policy | None, patient: PatientFacts, clinic: ClinicFacts
) -> Eligibility:
    """SPEC §3.2, with every failing condition listed (not just the first)."""
    reasons: list[Reason] = []
    if policy is None:
        reasons.append(Reason.NO_POLICY)
    if not patient.known:
        reasons.append(Reason.UNKNOWN_RESIDENT)
    else:
        if patient.hukou_district != clinic.district:
            reasons.append(Reason.OTHER_DISTRICT)
        elif patient.hukou_kind != "village":
            reasons.append(Reason.NOT_VILLAGE_HUKOU)
    if not clinic.in_programme:
        reasons.append(Reason.CLINIC_NOT_IN_PROGRAMME)
    insured = patient.known and patient.insured
    if not insured and patient.known:
        reasons.append(Reason.NOT_INSURED)
    if patient.known and patient.died_on is not None:
        reasons.append(Reason.DECEASED)
    require_insured = policy.require_insured if policy else True
    blocking = [r for r in reasons if r is not Reason.NOT_INSURED or require_insured]
    return Eligibility(
        programme=not blocking,
        insured=insured and patient.died_on is None,
        reasons=tuple(reasons),
        died_on=patient.died_on if patient.known else None,
    )


def deceased_problem(eligibility: Eligibility) -> Problem | None:
    """Why no visit may be recorded for this patient on this day (dead by then), or None."""
    if eligibility.died_on is None:
        return None
    return Problem(
        "patient_id_number",
        f"the register records this person's death on {eligibility.died_on.isoformat()}; "
        "no visit can be recorded on or after that day",
        ProblemCode.DECEASED,
    )


# --- lines -------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """One priced line as the engine sees it: the price is the catalogue's."""

    item: str
    kind: Kind
    insurance_class: InsuranceClass
    unit_price: int  # fen, from the catalogue on the visit date
    quantity: int  # thousandths
    # The national catalogue's fields on the visit date (SPEC §2.1); None: none set.
    selfpay_ratio: Decimal | None = None  # the item's 先行自付比例, 0..1
    price_ceiling: int | None = None  # fen per unit (医保支付限价)


def line_problems(lines: list[LineInput]) -> list[Problem]:
    """Meaning checks on the lines; each problem names ``lines[i].field``."""
    problems: list[Problem] = []
    if not lines:
        problems.append(Problem("lines", "a visit needs at least one line", ProblemCode.NO_LINES))
    consultation_seen = False
    for i, line in enumerate(lines):
        if line.quantity <= 0:
            problems.append(
                Problem(
                    f"lines[{i}].quantity", "must be greater than zero", ProblemCode.NOT_POSITIVE
                )
            )
        elif line.quantity > MAX_QUANTITY:
            problems.append(
                Problem(f"lines[{i}].quantity", "must be at most 9999.999", ProblemCode.TOO_MUCH)
            )
        elif line_amount(max(line.unit_price, 0), line.quantity) > MAX_AMOUNT:
            problems.append(
                Problem(
                    f"lines[{i}].quantity",
                    "the line amount is implausibly large",
                    ProblemCode.IMPLAUSIBLE,
                )
            )
        if line.unit_price < 0:
            problems.append(
                Problem(f"lines[{i}].item", "has a negative price", ProblemCode.NEGATIVE_PRICE)
            )
        if line.price_ceiling is not None and line.price_ceiling < 0:
            problems.append(
                Problem(
                    f"lines[{i}].item", "has a negative price ceiling", ProblemCode.NEGATIVE_CEILING
                )
            )
        if line.selfpay_ratio is not None and not 0 <= line.selfpay_ratio <= 1:
            problems.append(
                Problem(
                    f"lines[{i}].item", "has a self-pay ratio outside 0..1", ProblemCode.BAD_RATIO
                )
            )
        if line.kind is Kind.CONSULTATION:
            if consultation_seen:
                problems.append(
                    Problem(
                        f"lines[{i}].item",
                        "only one consultation line per visit",
                        ProblemCode.SECOND_CONSULTATION,
                    )
                )
            consultation_seen = True
            if line.quantity != ONE:
                problems.append(
                    Problem(
                        f"lines[{i}].quantity",
                        "the consultation fee is quantity 1",
                        ProblemCode.CONSULTATION_ONCE,
                    )
                )
    return problems


@dataclass(frozen=True)
class YearUsage:
    """The person's fund use so far this calendar year (all clinics)."""

    fund_paid: int = 0
    deductible_used: int = 0


@dataclass(frozen=True)
class PricedLine:
    item: str
    kind: Kind
    insurance_class: InsuranceClass
    unit_price: int
    quantity: int
    amount: int
    in_scope: int
    self_pay: int
    fund_base: int  # what of this line the fund's ratio applies to (its covered part)
    # Where the national fields applied (None where they did not): the ceiling per
    # unit and the part of the amount above it; the item's own self-pay ratio.
    price_ceiling: int | None = None
    over: int = 0
    selfpay_ratio: Decimal | None = None


@dataclass(frozen=True)
class Split:
    """The computed visit. Money in fen. ``copay`` is zero on programme visits."""

    programme: bool
    insured: bool
    lines: tuple[PricedLine, ...]
    lines_total: int
    registration: int
    injection: int
    in_scope: int
    self_pay: int
    fund_base: int
    deductible_applied: int
    fund: int
    fiscal: int
    copay: int
    patient: int
    total: int
    usage_after: YearUsage = field(default_factory=YearUsage)


def price_line(line: LineInput, policy: Policy | None) -> PricedLine:
    """Amount, in-scope and self-pay parts of one line (SPEC §3.1, §3.3).

    Without a policy (no programme, no fund) what is in scope only sorts the
    patient's own payment: nothing is left out of it but services and class C.
    """
    amount = line_amount(line.unit_price, line.quantity)
    over = 0
    if line.price_ceiling is not None:
        over = max(0, amount - line_amount(line.price_ceiling, line.quantity))
    fund_covered = line.kind is Kind.CONSULTATION or (
        line.kind is not Kind.SERVICE and line.insurance_class is not InsuranceClass.C
    )
    if not fund_covered:
        in_scope, covered = 0, 0
    else:
        ratio = line.selfpay_ratio
        if ratio is None:
            ratio = Decimal(0)
            if line.insurance_class is InsuranceClass.B and policy is not None:
                ratio = policy.class_b_selfpay_ratio
        covered = apply_ratio(amount - over, 1 - ratio)
        own_part = amount - over - covered
        over_in = policy is None or policy.over_ceiling_backstopped
        own_in = policy is None or policy.class_b_selfpay_backstopped
        in_scope = covered + (over if over_in else 0) + (own_part if own_in else 0)
    return PricedLine(
        item=line.item,
        kind=line.kind,
        insurance_class=line.insurance_class,
        unit_price=line.unit_price,
        quantity=line.quantity,
        amount=amount,
        in_scope=in_scope,
        self_pay=amount - in_scope,
        fund_base=covered,
        price_ceiling=line.price_ceiling if fund_covered else None,
        over=over if fund_covered else 0,
        selfpay_ratio=line.selfpay_ratio if fund_covered else None,
    )


def compute_split(
    policy: Policy | None,
    eligibility: Eligibility,
    lines: list[LineInput],
    injection: bool,
    usage: YearUsage,
) -> Split:
    """SPEC §3.3–3.5. Raises :class:`InvalidInput` when the lines break a rule,
    or when the patient had died by the visit date (no visit at all, SPEC §2)."""
    dead = deceased_problem(eligibility)
    if dead is not None:
        raise InvalidInput(dead)
    problems = line_problems(lines)
    if problems:
        raise InvalidInput(problems)
    if eligibility.programme and policy is None:
        raise ValueError("a programme visit needs a policy")

    priced = tuple(price_line(line, policy) for line in lines)
    lines_total = sum(p.amount for p in priced)
    if lines_total > MAX_AMOUNT:
        raise InvalidInput(
            Problem("lines", "the visit total is implausibly large", ProblemCode.IMPLAUSIBLE)
        )
    in_scope = sum(p.in_scope for p in priced)
    self_pay = sum(p.self_pay for p in priced)
    fund_base = sum(p.fund_base for p in priced)

    fund = 0
    deductible_applied = 0
    if policy is not None and eligibility.insured:
        deductible_left = max(0, policy.fund_deductible - usage.deductible_used)
        deductible_applied = min(fund_base, deductible_left)
        fund = apply_ratio(fund_base - deductible_applied, policy.fund_ratio)
        if policy.fund_visit_cap is not None:
            fund = min(fund, policy.fund_visit_cap)
        fund = max(0, min(fund, policy.fund_annual_cap - usage.fund_paid))
        # The fund base is never more than in_scope (covered ≤ a line's in-scope
        # part), and the ratio is ≤ 1, so the fund can never exceed what is in scope.
        fund = min(fund, in_scope)

    if eligibility.programme:
        assert policy is not None
        registration = policy.registration_fee
        injection_fee = policy.injection_fee if injection else 0
        fiscal = in_scope - fund  # the district pays whatever the fund did not
        copay = 0
    else:
        registration = injection_fee = fiscal = 0
        copay = in_scope - fund

    patient = registration + injection_fee + copay + self_pay
    total = lines_total + registration + injection_fee
    assert total == patient + fund + fiscal
    return Split(
        programme=eligibility.programme,
        insured=eligibility.insured,
        lines=priced,
        lines_total=lines_total,
        registration=registration,
        injection=injection_fee,
        in_scope=in_scope,
        self_pay=self_pay,
        fund_base=fund_base,
        deductible_applied=deductible_applied,
        fund=fund,
        fiscal=fiscal,
        copay=copay,
        patient=patient,
        total=total,
        usage_after=YearUsage(
            fund_paid=usage.fund_paid + fund,
            deductible_used=usage.deductible_used + deductible_applied,
        ),
    )
