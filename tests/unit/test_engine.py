"""The split engine (SPEC §3): worked examples, every branch, and properties."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.policy.rules import Policy
from app.visits.rules import (
    MAX_QUANTITY,
    ClinicFacts,
    Eligibility,
    InsuranceClass,
    Kind,
    LineInput,
    PatientFacts,
    Reason,
    Split,
    YearUsage,
    assess_eligibility,
    clinic_in_programme,
    compute_split,
    insurance_active,
)
from tests.factories import DEFAULT_POLICY

HUADU = "440114"

POLICY = DEFAULT_POLICY  # the SPEC §2 example policy

D, A, B, C = Kind.CONSULTATION, InsuranceClass.A, InsuranceClass.B, InsuranceClass.C

# SPEC §3 worked example: 一般诊疗费, 阿莫西林胶囊 ×12, 复方甘草片 (B), 换药 (service)
WORKED = [
    LineInput("DX001", Kind.CONSULTATION, A, 1000, 1000),
    LineInput("AMX01", Kind.DRUG, A, 35, 12000),
    LineInput("FFGC1", Kind.DRUG, B, 350, 1000),
    LineInput("HY001", Kind.SERVICE, A, 500, 1000),
]

VILLAGER = PatientFacts(known=True, hukou_district=HUADU, hukou_kind="village", insured=True)
CLINIC = ClinicFacts(district=HUADU, in_programme=True)


def split_for(
    patient: PatientFacts = VILLAGER,
    clinic: ClinicFacts = CLINIC,
    policy: Policy | None = POLICY,
    lines: list[LineInput] | None = None,
    injection: bool = True,
    usage: YearUsage | None = None,
) -> Split:
    eligibility = assess_eligibility(policy, patient, clinic)
    return compute_split(
        policy, eligibility, WORKED if lines is None else lines, injection, usage or YearUsage()
    )


def shares(split: Split) -> tuple[int, int, int, int]:
    return split.fund, split.fiscal, split.patient, split.total


def assert_identity(split: Split) -> None:
    assert split.total == split.patient + split.fund + split.fiscal
    assert split.total == split.lines_total + split.registration + split.injection
    assert split.patient == split.registration + split.injection + split.copay + split.self_pay
    assert split.lines_total == split.in_scope + split.self_pay
    assert split.in_scope == split.fund + split.fiscal + split.copay


# --- worked examples ------------------------------------------------------------------


def test_worked_example() -> None:
    split = split_for()
    assert split.programme and split.insured
    assert [line.amount for line in split.lines] == [1000, 420, 350, 500]
    assert split.fund_base == 1735
    assert split.in_scope == 1770
    assert shares(split) == (1215, 555, 700, 2470)
    assert (split.registration, split.injection, split.self_pay, split.copay) == (100, 100, 500, 0)
    assert split.usage_after == YearUsage(fund_paid=1215, deductible_used=0)
    assert_identity(split)


def test_worked_example_community_variant() -> None:
    community = dataclasses.replace(VILLAGER, hukou_kind="community")
    split = split_for(community)
    assert not split.programme and split.insured
    assert shares(split) == (1215, 0, 1055, 2270)
    assert split.copay == 555
    assert (split.registration, split.injection) == (0, 0)  # no programme fees outside it
    assert_identity(split)


# SPEC §3, second worked example: the same lines, amoxicillin with a ceiling of 0.30
# a capsule and 复方甘草片 with its own self-pay ratio 0.05.
NATIONAL = [
    WORKED[0],
    dataclasses.replace(WORKED[1], price_ceiling=30),
    dataclasses.replace(WORKED[2], selfpay_ratio=Decimal("0.05")),
    WORKED[3],
]


def test_second_worked_example_with_national_fields() -> None:
    split = split_for(lines=NATIONAL)
    amoxicillin, gancao = split.lines[1], split.lines[2]
    assert (amoxicillin.amount, amoxicillin.over, amoxicillin.fund_base) == (420, 60, 360)
    assert amoxicillin.price_ceiling == 30 and amoxicillin.selfpay_ratio is None
    assert (amoxicillin.in_scope, amoxicillin.self_pay) == (360, 60)
    # covered = round(3.50 × 0.95) = round(3.325) = 3.33; its 0.17 is backstopped
    assert (gancao.fund_base, gancao.in_scope, gancao.self_pay) == (333, 350, 0)
    assert gancao.selfpay_ratio == Decimal("0.05") and gancao.price_ceiling is None
    assert split.fund_base == 1693
    assert split.in_scope == 1710
    assert split.self_pay == 560
    assert shares(split) == (1185, 525, 760, 2470)
    assert_identity(split)


def test_over_ceiling_backstopped_puts_the_over_part_in_scope_not_in_the_fund_base() -> None:
    policy = dataclasses.replace(POLICY, over_ceiling_backstopped=True)
    split = split_for(policy=policy, lines=NATIONAL)
    assert split.lines[1].in_scope == 420 and split.lines[1].fund_base == 360
    assert split.fund_base == 1693 and split.fund == 1185
    assert split.in_scope == 1770 and split.fiscal == 585
    assert shares(split) == (1185, 585, 700, 2470)
    assert_identity(split)


def test_an_items_own_ratio_is_left_to_the_patient_when_not_backstopped() -> None:
    """class_b_selfpay_backstopped covers every item's self-pay part, class A's too."""
    policy = dataclasses.replace(POLICY, class_b_selfpay_backstopped=False)
    a_with_ratio = LineInput("AMX01", Kind.DRUG, A, 35, 12000, selfpay_ratio=Decimal("0.20"))
    split = split_for(policy=policy, lines=[a_with_ratio])
    # covered = round(4.20 × 0.80) = 3.36; the 0.84 is the patient's
    assert (split.lines[0].fund_base, split.lines[0].in_scope, split.lines[0].self_pay) == (
        336,
        336,
        84,
    )
    backstopped = split_for(lines=[a_with_ratio])
    assert (backstopped.lines[0].in_scope, backstopped.lines[0].self_pay) == (420, 0)


def test_a_ceiling_above_the_price_changes_nothing_and_a_ratio_of_zero_overrides_class_b() -> None:
    high = [dataclasses.replace(WORKED[1], price_ceiling=40), *WORKED[2:]]
    assert shares(split_for(lines=[WORKED[0], *high])) == shares(split_for())
    zero = dataclasses.replace(WORKED[2], selfpay_ratio=Decimal(0))
    split = split_for(
        lines=[zero], policy=dataclasses.replace(POLICY, class_b_selfpay_backstopped=False)
    )
    assert (split.lines[0].fund_base, split.lines[0].self_pay) == (350, 0)


def test_ceiling_on_a_fraction_of_a_unit_rounds_once_half_up() -> None:
    # 0.5 units at 0.35 = 0.175 → 0.18; ceiling 0.25 × 0.5 = 0.125 → 0.13; over 0.05
    line = LineInput("AMX01", Kind.DRUG, A, 35, 500, price_ceiling=25)
    priced = split_for(lines=[line]).lines[0]
    assert (priced.amount, priced.over, priced.fund_base) == (18, 5, 13)


def test_services_and_class_c_ignore_the_national_fields() -> None:
    lines = [
        LineInput(
            "HY001", Kind.SERVICE, A, 500, 1000, selfpay_ratio=Decimal("0.5"), price_ceiling=1
        ),
        LineInput("VC001", Kind.DRUG, C, 2, 10000, price_ceiling=1),
    ]
    split = split_for(lines=lines)
    assert all(
        p.over == 0 and p.price_ceiling is None and p.selfpay_ratio is None for p in split.lines
    )
    assert split.self_pay == 520 and split.in_scope == 0


def test_rounding_edge_12_145_goes_up() -> None:
    # Not backstopped: in_scope = 10.00 + 4.20 + 3.15 = 17.35; fund = 17.35 × 0.70 = 12.145
    policy = dataclasses.replace(POLICY, class_b_selfpay_backstopped=False)
    split = split_for(policy=policy)
    assert split.fund_base == 1735 and split.fund == 1215
    # A base of 17.35 alone, without class B, rounds the same way.
    lines = [LineInput("DX001", D, A, 1000, 1000), LineInput("X", Kind.DRUG, A, 735, 1000)]
    assert split_for(lines=lines).fund == 1215


# --- every branch ----------------------------------------------------------------------


def test_uninsured_programme_patient_when_insurance_not_required() -> None:
    policy = dataclasses.replace(POLICY, require_insured=False)
    uninsured = dataclasses.replace(VILLAGER, insured=False)
    split = split_for(uninsured, policy=policy)
    assert split.programme and not split.insured
    assert shares(split) == (0, 1770, 700, 2470)  # the district backstops all of it
    assert split.usage_after == YearUsage()
    assert_identity(split)


def test_uninsured_patient_when_insurance_required() -> None:
    split = split_for(dataclasses.replace(VILLAGER, insured=False))
    assert not split.programme
    assert shares(split) == (0, 0, 2270, 2270)
    assert split_for(dataclasses.replace(VILLAGER, insured=False)).lines_total == 2270


def test_class_b_not_backstopped() -> None:
    policy = dataclasses.replace(POLICY, class_b_selfpay_backstopped=False)
    split = split_for(policy=policy)
    b_line = split.lines[2]
    assert (b_line.amount, b_line.in_scope, b_line.self_pay, b_line.fund_base) == (
        350,
        315,
        35,
        315,
    )
    assert split.in_scope == 1735 and split.self_pay == 535
    assert shares(split) == (1215, 520, 735, 2470)
    assert_identity(split)


def test_class_b_selfpay_part_rounds_half_up() -> None:
    # 0.65 × (1 − 0.10) = 0.585 → 0.59 covered, 0.06 self-pay
    lines = [LineInput("BSJ01", Kind.DRUG, B, 65, 1000)]
    split = split_for(
        lines=lines, policy=dataclasses.replace(POLICY, class_b_selfpay_backstopped=False)
    )
    assert (split.lines[0].fund_base, split.lines[0].self_pay) == (59, 6)


@pytest.mark.parametrize(
    ("deductible", "used", "applied", "fund"),
    [
        (1000, 0, 1000, 515),  # (17.35 − 10.00) × 0.70 = 5.145 → 5.15
        (1000, 400, 600, 795),  # (17.35 − 6.00) × 0.70 = 7.945 → 7.95
        (1000, 1000, 0, 1215),  # met earlier in the year
        (5000, 0, 1735, 0),  # the whole base goes to the deductible
        (5000, 4000, 1000, 515),
    ],
)
def test_deductible(deductible: int, used: int, applied: int, fund: int) -> None:
    policy = dataclasses.replace(POLICY, fund_deductible=deductible)
    split = split_for(policy=policy, usage=YearUsage(deductible_used=used))
    assert split.deductible_applied == applied
    assert split.fund == fund
    assert split.fiscal == 1770 - fund
    assert split.usage_after.deductible_used == used + applied
    assert_identity(split)


def test_visit_cap() -> None:
    split = split_for(policy=dataclasses.replace(POLICY, fund_visit_cap=1000))
    assert shares(split) == (1000, 770, 700, 2470)
    assert split_for(policy=dataclasses.replace(POLICY, fund_visit_cap=0)).fund == 0
    assert split_for(policy=dataclasses.replace(POLICY, fund_visit_cap=5000)).fund == 1215


@pytest.mark.parametrize(
    ("paid", "fund"),
    [(0, 1215), (58785, 1215), (59500, 500), (59999, 1), (60000, 0), (70000, 0)],
)
def test_annual_cap(paid: int, fund: int) -> None:
    split = split_for(usage=YearUsage(fund_paid=paid))
    assert split.fund == fund
    assert split.fiscal == 1770 - fund  # programme: the district takes what the cap leaves
    assert split.usage_after.fund_paid == paid + fund
    assert_identity(split)


def test_annual_cap_outside_programme_goes_to_the_patient() -> None:
    other = dataclasses.replace(VILLAGER, hukou_district="440112")
    split = split_for(other, usage=YearUsage(fund_paid=59500))
    assert (split.fund, split.fiscal, split.copay) == (500, 0, 1270)
    assert_identity(split)


def test_non_programme_insured_copay() -> None:
    other = dataclasses.replace(VILLAGER, hukou_district="440112")
    split = split_for(other)
    assert not split.programme and split.insured
    assert split.copay == 555 and split.self_pay == 500
    assert shares(split) == (1215, 0, 1055, 2270)
    assert_identity(split)


def test_unknown_resident() -> None:
    split = split_for(PatientFacts(known=False))
    assert not split.programme and not split.insured
    assert shares(split) == (0, 0, 2270, 2270)
    eligibility = assess_eligibility(POLICY, PatientFacts(known=False), CLINIC)
    assert eligibility.reasons == (Reason.UNKNOWN_RESIDENT,)


def test_no_policy() -> None:
    split = split_for(policy=None)
    assert not split.programme and split.insured
    assert shares(split) == (0, 0, 2270, 2270)  # no version → no programme and no fund share
    assert split.lines[2].self_pay == 0  # no class-B self-pay ratio without a policy
    assert assess_eligibility(None, VILLAGER, CLINIC).reasons == (Reason.NO_POLICY,)


def test_clinic_not_in_programme() -> None:
    clinic = ClinicFacts(district=HUADU, in_programme=False)
    split = split_for(clinic=clinic)
    assert not split.programme
    assert shares(split) == (1215, 0, 1055, 2270)
    assert assess_eligibility(POLICY, VILLAGER, clinic).reasons == (Reason.CLINIC_NOT_IN_PROGRAMME,)


def test_other_district() -> None:
    other = dataclasses.replace(VILLAGER, hukou_district="440112")
    eligibility = assess_eligibility(POLICY, other, CLINIC)
    assert not eligibility.programme and eligibility.reasons == (Reason.OTHER_DISTRICT,)


def test_every_failing_condition_is_listed() -> None:
    patient = PatientFacts(known=True, hukou_district=HUADU, hukou_kind="community", insured=False)
    eligibility = assess_eligibility(None, patient, ClinicFacts(HUADU, in_programme=False))
    assert eligibility == Eligibility(
        programme=False,
        insured=False,
        reasons=(
            Reason.NO_POLICY,
            Reason.NOT_VILLAGE_HUKOU,
            Reason.CLINIC_NOT_IN_PROGRAMME,
            Reason.NOT_INSURED,
        ),
    )


def test_not_insured_is_listed_but_does_not_block_when_not_required() -> None:
    policy = dataclasses.replace(POLICY, require_insured=False)
    eligibility = assess_eligibility(policy, dataclasses.replace(VILLAGER, insured=False), CLINIC)
    assert eligibility.programme and eligibility.reasons == (Reason.NOT_INSURED,)


def test_no_injection_no_fee() -> None:
    split = split_for(injection=False)
    assert split.injection == 0 and split.patient == 600 and split.total == 2370


def test_class_c_and_materials() -> None:
    lines = [
        LineInput("VC001", Kind.DRUG, C, 2, 30000),  # 丙类: patient
        LineInput("MZ001", Kind.MATERIAL, A, 150, 2000),  # 甲类 material: in scope
        LineInput("ZS001", Kind.SERVICE, A, 300, 1000),  # service: patient whatever its class
    ]
    split = split_for(lines=lines, injection=False)
    assert [(p.in_scope, p.self_pay) for p in split.lines] == [(0, 60), (300, 0), (0, 300)]
    assert shares(split) == (210, 90, 460, 760)
    assert_identity(split)


# --- line rules -----------------------------------------------------------------------


def test_second_consultation_line_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        split_for(lines=[*WORKED, LineInput("DX001", D, A, 1000, 1000)])
    assert err.value.field == "lines[4].item"
    assert err.value.problems[0].code == "second_consultation"


@pytest.mark.parametrize("quantity", [2000, 500, 1001])
def test_consultation_quantity_must_be_one(quantity: int) -> None:
    with pytest.raises(InvalidInput) as err:
        split_for(lines=[LineInput("DX001", D, A, 1000, quantity)])
    assert err.value.field == "lines[0].quantity"


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([LineInput("AMX01", Kind.DRUG, A, 35, 0)], "lines[0].quantity"),
        ([LineInput("AMX01", Kind.DRUG, A, 35, -1000)], "lines[0].quantity"),
        ([LineInput("AMX01", Kind.DRUG, A, 35, MAX_QUANTITY + 1)], "lines[0].quantity"),
        ([LineInput("AMX01", Kind.DRUG, A, 10**9, 1000 * 1000)], "lines[0].quantity"),
        ([LineInput("AMX01", Kind.DRUG, A, -1, 1000)], "lines[0].item"),
    ],
)
def test_line_problems(lines: list[LineInput], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        split_for(lines=lines)
    assert field in {p.field for p in err.value.problems}


def test_visit_total_bound() -> None:
    lines = [LineInput(f"X{i}", Kind.DRUG, A, 9_000_000, 1000) for i in range(20)]
    with pytest.raises(InvalidInput) as err:
        split_for(lines=lines)
    assert err.value.field == "lines"


# --- calendar rules ---------------------------------------------------------------------


def test_clinic_in_programme_bounds() -> None:
    joined, left = dt.date(2016, 1, 1), dt.date(2026, 11, 1)
    assert not clinic_in_programme(joined, left, dt.date(2015, 12, 31))
    assert clinic_in_programme(joined, left, joined)
    assert clinic_in_programme(joined, left, dt.date(2026, 10, 31))
    assert not clinic_in_programme(joined, left, left)  # left_on is the first day out
    assert clinic_in_programme(joined, None, dt.date(2099, 1, 1))
    assert not clinic_in_programme(None, None, dt.date(2026, 1, 1))


def test_insurance_active_bounds() -> None:
    start, end = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    assert insurance_active("resident", start, end, start)
    assert insurance_active("employee", start, end, end)  # both dates inclusive
    assert not insurance_active("resident", start, end, dt.date(2027, 1, 1))
    assert not insurance_active("resident", start, end, dt.date(2025, 12, 31))
    assert insurance_active("resident", start, None, dt.date(2030, 1, 1))
    assert not insurance_active("none", start, None, dt.date(2026, 6, 1))
    assert not insurance_active("resident", None, None, dt.date(2026, 6, 1))


# --- properties ------------------------------------------------------------------------

ratios = st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n) / 100)
fen = st.integers(min_value=0, max_value=100_000)

policies = st.builds(
    Policy,
    registration_fee=st.integers(0, 500),
    injection_fee=st.integers(0, 500),
    fund_ratio=ratios,
    fund_deductible=st.integers(0, 20_000),
    fund_annual_cap=fen,
    fund_visit_cap=st.none() | st.integers(0, 10_000),
    class_b_selfpay_ratio=ratios,
    class_b_selfpay_backstopped=st.booleans(),
    require_insured=st.booleans(),
    over_ceiling_backstopped=st.booleans(),
    require_diagnosis=st.booleans(),
)

other_lines = st.builds(
    LineInput,
    item=st.sampled_from(["AMX01", "FFGC1", "HY001", "VC001", "MZ001"]),
    kind=st.sampled_from([Kind.DRUG, Kind.SERVICE, Kind.MATERIAL]),
    insurance_class=st.sampled_from(list(InsuranceClass)),
    unit_price=st.integers(0, 50_000),
    quantity=st.integers(1, 200_000),
    selfpay_ratio=st.none() | ratios,
    price_ceiling=st.none() | st.integers(0, 50_000),
)


@st.composite
def visit_lines(draw: st.DrawFn) -> list[LineInput]:
    lines = draw(st.lists(other_lines, min_size=0, max_size=8))
    if draw(st.booleans()) or not lines:
        price = draw(st.integers(0, 5000))
        lines.insert(draw(st.integers(0, len(lines))), LineInput("DX001", D, A, price, 1000))
    return lines


patients = st.one_of(
    st.just(PatientFacts(known=False)),
    st.builds(
        PatientFacts,
        known=st.just(True),
        hukou_district=st.sampled_from([HUADU, "440112"]),
        hukou_kind=st.sampled_from(["village", "community"]),
        insured=st.booleans(),
    ),
)
clinics = st.builds(ClinicFacts, district=st.just(HUADU), in_programme=st.booleans())
usages = st.builds(
    YearUsage, fund_paid=st.integers(0, 120_000), deductible_used=st.integers(0, 30_000)
)


@settings(max_examples=400)
@given(
    policy=st.none() | policies,
    patient=patients,
    clinic=clinics,
    lines=visit_lines(),
    injection=st.booleans(),
    usage=usages,
)
def test_split_properties(
    policy: Policy | None,
    patient: PatientFacts,
    clinic: ClinicFacts,
    lines: list[LineInput],
    injection: bool,
    usage: YearUsage,
) -> None:
    eligibility = assess_eligibility(policy, patient, clinic)
    split = compute_split(policy, eligibility, lines, injection, usage)

    # the identity, and no negative part
    assert_identity(split)
    for name in (
        "total",
        "patient",
        "fund",
        "fiscal",
        "copay",
        "self_pay",
        "in_scope",
        "registration",
        "injection",
        "deductible_applied",
        "fund_base",
    ):
        assert getattr(split, name) >= 0, name
    for line in split.lines:
        assert line.amount == line.in_scope + line.self_pay and line.self_pay >= 0
        # SPEC §3.1: the part over a ceiling is never in the fund base
        assert 0 <= line.over <= line.amount and line.fund_base <= line.amount - line.over
        assert line.fund_base <= line.in_scope
        if policy is not None and not policy.over_ceiling_backstopped:
            assert line.in_scope <= line.amount - line.over

    # the caps
    if policy is not None:
        assert split.fund <= max(0, policy.fund_annual_cap - usage.fund_paid)
        if policy.fund_visit_cap is not None:
            assert split.fund <= policy.fund_visit_cap
        assert split.deductible_applied <= max(0, policy.fund_deductible - usage.deductible_used)
    assert split.fund <= split.in_scope
    assert split.usage_after.fund_paid == usage.fund_paid + split.fund

    # who gets nothing
    if not split.insured or policy is None:
        assert split.fund == 0
    if not split.programme:
        assert split.fiscal == 0 and split.registration == 0 and split.injection == 0
    else:
        assert split.copay == 0
        assert split.registration == policy.registration_fee  # type: ignore[union-attr]
    if not injection:
        assert split.injection == 0

    # deterministic: the same arguments give the same split
    assert compute_split(policy, eligibility, list(lines), injection, usage) == split
