"""Policy delivery 2.0's pure rules on worked cases (issue 11)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from app.checks.rules import (
    CLINIC_FIGURES,
    DIAGNOSIS_FIGURES,
    STOCK_FIGURES,
    CheckInput,
    CheckLine,
    ClinicDiagnoses,
    ClinicMonth,
    Figure,
    FlagPolicy,
    OversightPolicy,
    PastStatement,
    ReviewPolicy,
    Rule,
    SampleCandidate,
    Severity,
    auto_submit_due,
    blocking,
    diagnosis_flags,
    draw_sample,
    median,
    peer_flags,
    run_checks,
    sample_seed,
    stock_flags,
    supply_end,
    trust,
    warnings,
)

DAY = dt.date(2026, 10, 15)
AT = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)
EVERYTHING_WARNS = OversightPolicy(
    severities=dict.fromkeys(Rule, Severity.WARN),
    frequent_visits_max=4,
    frequent_visits_days=7,
    late_entry_hours=72,
)
# The demo file's [flags] at the textbook cut, and its [review].
FLAGS = FlagPolicy(threshold=Fraction(7, 2), min_peers=5, min_count=3)
REVIEW = ReviewPolicy(trusted_after_months=3, sample_percent=5, sample_above=10_000)


def line(item: str = "AMX01", quantity: int = 12_000, **changes: object) -> CheckLine:
    values: dict[str, object] = {
        "item": item,
        "name": item,
        "quantity": quantity,
        "max_per_visit": 36_000,
        "units_per_day": 3_000,  # three capsules a day
        "injectable": False,
        "sex": None,
        "min_age": None,
        "max_age": None,
    }
    values.update(changes)
    return CheckLine(**values)  # type: ignore[arg-type]


def visit(*lines: CheckLine, **changes: object) -> CheckInput:
    values: dict[str, object] = {
        "lines": lines or (line(),),
        "injection": False,
        "sex": "M",
        "birth_date": dt.date(1960, 3, 7),
        "visit_date": DAY,
        "visited_at": AT,
        "recorded_at": AT,
        "diagnoses": ("J06.900",),
    }
    values.update(changes)
    return CheckInput(**values)  # type: ignore[arg-type]


def rules(hits: list) -> list[tuple[Rule, str]]:  # type: ignore[type-arg]
    return [(h.rule, h.subject) for h in hits]


def test_a_clean_visit_fires_nothing() -> None:
    assert run_checks(EVERYTHING_WARNS, visit()) == []


def test_each_rule_fires_on_its_case_with_its_facts() -> None:
    p = EVERYTHING_WARNS
    too_much = run_checks(p, visit(line(quantity=40_000)))
    assert rules(too_much) == [(Rule.QUANTITY_OVER_MAX, "AMX01")]
    assert too_much[0].facts == {"quantity": "40000", "maximum": "36000"}

    often = visit(recent_visit_dates=[DAY - dt.timedelta(days=d) for d in (1, 2, 4, 6)])
    assert rules(run_checks(p, often)) == [(Rule.FREQUENT_VISITS, "")]
    # The fifth visit in 7 days fires; visits outside the window do not count.
    spread = visit(recent_visit_dates=[DAY - dt.timedelta(days=d) for d in (1, 2, 4, 7)])
    assert run_checks(p, spread) == []

    assert rules(run_checks(p, visit(same_clinic_same_day=1))) == [(Rule.SPLIT_VISIT, "")]

    refill = visit(supply_until={"AMX01": DAY + dt.timedelta(days=2)})
    hits = run_checks(p, refill)
    assert rules(hits) == [(Rule.EARLY_REFILL, "AMX01")] and hits[0].facts["days_left"] == "2"
    assert run_checks(p, visit(supply_until={"AMX01": DAY})) == []  # ran out today: fine

    assert rules(run_checks(p, visit(injection=True))) == [(Rule.INJECTION_WITHOUT_INJECTABLE, "")]
    shot = line("ZSY01", 1_000, injectable=True, units_per_day=None, max_per_visit=None)
    assert rules(run_checks(p, visit(shot))) == [(Rule.INJECTABLE_WITHOUT_INJECTION, "ZSY01")]
    assert run_checks(p, visit(shot, injection=True)) == []

    for_women = line("YD01", 1_000, sex="F", units_per_day=None)
    assert rules(run_checks(p, visit(for_women))) == [(Rule.UNSUITED_ITEM, "YD01")]
    for_children = line("ET01", 1_000, max_age=12, units_per_day=None)
    hit = run_checks(p, visit(for_children))
    assert rules(hit) == [(Rule.UNSUITED_ITEM, "ET01")] and hit[0].facts["age"] == "66"

    late = visit(recorded_at=AT + dt.timedelta(hours=72))
    assert rules(run_checks(p, late)) == [(Rule.LATE_ENTRY, "")]

    assert rules(run_checks(p, visit(diagnoses=()))) == [(Rule.NO_DIAGNOSIS, "")]
    for_colds = line("AMX01", indications=("J06", "j20"))
    assert run_checks(p, visit(for_colds, diagnoses=("K29.700", "J20.900"))) == []
    off = run_checks(p, visit(for_colds, diagnoses=("K29.700",)))
    assert rules(off) == [(Rule.OFF_INDICATION, "AMX01")]
    assert off[0].facts == {"diagnoses": "K29.700", "indications": "J06,j20"}
    # A man (the visit's sex) with a women's diagnosis; a 66-year-old with a newborn's.
    women = run_checks(p, visit(diagnoses=("N76.000",)))
    assert rules(women) == [(Rule.UNSUITED_DIAGNOSIS, "")]
    assert women[0].facts == {"code": "N76.000", "sex": "M", "diagnosis_sex": "F"}
    newborn = run_checks(p, visit(diagnoses=("J06.900", "P07.300")))
    assert newborn[0].facts == {"code": "P07.300", "age": "66", "max_age": "1"}
    assert (
        run_checks(p, visit(sex="F", birth_date=dt.date(1990, 1, 1), diagnoses=("O80.000",))) == []
    )
    assert rules(run_checks(p, visit(sex="F", diagnoses=("O80.000",)))) == [
        (Rule.UNSUITED_DIAGNOSIS, "")
    ]  # 66: over the age
    assert run_checks(p, visit(recorded_at=AT + dt.timedelta(hours=71, minutes=59))) == []


def test_severity_comes_from_the_policy_and_off_never_fires() -> None:
    policy = OversightPolicy(
        severities={Rule.SPLIT_VISIT: Severity.BLOCK, Rule.LATE_ENTRY: Severity.WARN},
        late_entry_hours=72,
    )
    hits = run_checks(
        policy,
        visit(
            line(quantity=40_000),  # quantity_over_max is off in this policy
            same_clinic_same_day=1,
            recorded_at=AT + dt.timedelta(days=5),
        ),
    )
    assert [h.rule for h in blocking(hits)] == [Rule.SPLIT_VISIT]
    assert [h.rule for h in warnings(hits)] == [Rule.LATE_ENTRY]


def test_a_supply_lasts_whole_days_rounded_up() -> None:
    assert supply_end(line(quantity=12_000), DAY) == DAY + dt.timedelta(days=4)
    assert supply_end(line(quantity=13_000), DAY) == DAY + dt.timedelta(days=5)
    assert supply_end(line(units_per_day=None), DAY) is None


# --- peer flags ---------------------------------------------------------------------------


def month(clinic: str, total: int, visits: int = 100, **changes: int) -> ClinicMonth:
    values = {
        "clinic": clinic, "visits": visits, "programme": visits, "total": total,
        "fund": total // 2,
        "fiscal": total // 4, "injections": 20, "residents": 1000, "warned": 2,
        "late": 1, "voided": 1,
    }  # fmt: skip
    values.update(changes)
    return ClinicMonth(**values)  # type: ignore[arg-type]


def test_one_clinic_far_from_its_peers_is_flagged_with_how_far_and_against_what() -> None:
    months = [month(f"C{i}", 2_000_00 + i * 1_000) for i in range(9)]
    months.append(month("OUT", 6_000_00, injections=70))
    flags = peer_flags(months, FLAGS)
    flagged = {(f.clinic, f.figure) for f in flags}
    assert ("OUT", Figure.COST_PER_VISIT) in flagged
    assert ("OUT", Figure.INJECTION_RATE) in flagged
    assert {f.clinic for f in flags} == {"OUT"}
    cost = next(f for f in flags if f.figure is Figure.COST_PER_VISIT)
    assert cost.value == 6000 and cost.median == 2045  # the middle of the ten
    assert cost.peers == 10 and cost.score > Fraction(7, 2)


def test_a_mean_and_sd_would_hide_what_the_median_and_mad_show() -> None:
    # Two extreme clinics inflate the standard deviation enough to hide each
    # other from a z-score of 3; the MAD is not moved by them.
    months = [month(f"C{i}", 2_000_00 + (i % 3) * 1_000) for i in range(8)]
    months += [month("X1", 9_000_00), month("X2", 9_500_00)]
    values = [Fraction(m.total, m.visits) for m in months]
    mean = sum(values, Fraction(0)) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    assert all(abs(float(v - mean)) / sd < 3 for v in values)
    flagged = {f.clinic for f in peer_flags(months, FLAGS)}
    assert flagged == {"X1", "X2"}


def test_no_comparison_with_too_few_peers_and_none_when_all_agree() -> None:
    assert peer_flags([month(f"C{i}", 2_000_00) for i in range(4)], FLAGS) == []
    assert peer_flags([month(f"C{i}", 2_000_00) for i in range(8)], FLAGS) == []


def test_when_most_clinics_have_no_complaint_one_that_has_many_stands_out() -> None:
    months = [month(f"C{i}", 2_000_00) for i in range(9)] + [month("Z", 2_000_00, complaints=5)]
    (flag,) = peer_flags(months, FLAGS)
    assert flag.clinic == "Z" and flag.figure is Figure.COMPLAINT_SHARE and flag.mad == 0


def quiet(clinic: str, **changes: int) -> ClinicMonth:
    """A demo-sized clinic-month: 30 visits at 30 yuan, no voids, warnings or late entries."""
    values = {"visits": 30, "injections": 6, "warned": 0, "late": 0, "voided": 0}
    values.update(changes)
    return month(clinic, 30 * 30_00, **values)


def test_one_void_in_a_quiet_district_is_not_a_flag() -> None:
    # Nine clinics void nothing this month, one voided a single visit: the MAD is
    # 0, and the mean-absolute-deviation fallback scores that void 1/31 against a
    # mean deviation of 1/310 — a score of 8, far past 3.5.  It rests on one
    # event, below min_count (3): no flag.  Three voids are a pattern: flagged.
    one = [quiet(f"C{i}") for i in range(9)] + [quiet("V", voided=1)]
    assert peer_flags(one, FLAGS) == []
    assert [(f.clinic, f.figure) for f in peer_flags(one, replace(FLAGS, min_count=1))] == [
        ("V", Figure.VOID_SHARE)
    ]
    three = [quiet(f"C{i}") for i in range(9)] + [quiet("V", voided=3)]
    (flag,) = peer_flags(three, FLAGS)
    assert (flag.clinic, flag.figure, flag.value) == ("V", Figure.VOID_SHARE, Fraction(3, 33))
    assert (flag.median, flag.mad, flag.peers) == (0, 0, 10)
    # score = (3/33 − 0) / (mean |deviation| · 1.253314) = (3/33) / ((3/33)/10 · 1.253314)
    assert flag.score == 10 / Fraction(1253314, 1000000)


def test_the_count_gate_applies_to_every_figure_not_just_the_zero_mad_ones() -> None:
    # Injection rates spread (MAD > 0); a clinic with 2 injections in 3 visits has a
    # rate far above the others' but too few events to say anything.
    months = [quiet(f"C{i}", injections=6 + i % 3) for i in range(9)]
    small = ClinicMonth("S", 3, 3, 3 * 30_00, 3 * 15_00, 3 * 7_50, 2, 100, 0, 0, 0)
    assert small.figure(Figure.INJECTION_RATE) == Fraction(2, 3)
    assert {(f.clinic, f.figure) for f in peer_flags([*months, small], FLAGS)} == set()
    busy = quiet("B", injections=15)  # 15 of 30: the same rate on enough visits
    assert {(f.clinic, f.figure) for f in peer_flags([*months, busy], FLAGS)} == {
        ("B", Figure.INJECTION_RATE)
    }


def test_a_clinic_far_below_its_peers_is_not_a_risk() -> None:
    months = [month(f"C{i}", 2_000_00 + i * 1_000) for i in range(9)]
    cheap = month("LOW", 500_00)  # a quarter of the others' cost per visit
    assert peer_flags([*months, cheap], FLAGS) == []
    dear = month("HIGH", 6_000_00)
    assert {f.clinic for f in peer_flags([*months, dear], FLAGS)} == {"HIGH"}


def test_a_clinic_outside_the_programme_has_no_backstop_figure() -> None:
    # A clinic that left the programme records fund-only visits: backstop 0 per
    # visit is not "far below its peers", it is not comparable.  Its other
    # figures still count; the programme clinics' backstop is per programme visit.
    months = [quiet(f"C{i}") for i in range(9)]
    left = month("L", 30 * 30_00, visits=30, programme=0, fiscal=0, injections=6,
                 warned=0, late=0, voided=0)  # fmt: skip
    assert left.figure(Figure.FISCAL_PER_VISIT) is None
    assert peer_flags([*months, left], FLAGS) == []
    half = month("H", 30 * 30_00, visits=30, programme=15, fiscal=15 * 7_50, injections=6,
                 warned=0, late=0, voided=0)  # fmt: skip
    assert half.figure(Figure.FISCAL_PER_VISIT) == 7_50
    assert peer_flags([*months, half], FLAGS) == []


@given(st.lists(st.fractions(min_value=0, max_value=1000), min_size=1, max_size=30))
def test_median_is_the_middle(values: list[Fraction]) -> None:
    m = median(values)
    assert sum(v < m for v in values) <= len(values) // 2
    assert sum(v > m for v in values) <= len(values) // 2


# --- trust, sampling, auto-submit ------------------------------------------------------------


def test_trust_needs_k_clean_months_in_a_row_and_no_flag_now() -> None:
    policy = REVIEW
    clean = [PastStatement(f"2026-0{m}", True) for m in (6, 7, 8)]
    assert trust(clean, [], policy).trusted
    assert trust(clean, [], policy).reasons == ("clean_months:3", "no_flags")
    returned = [*clean[:2], PastStatement("2026-08", False)]
    assert trust(returned, [], policy).reasons == ("corrected:2026-08",)
    assert trust(clean[:2], [], policy).reasons == ("history_short:2",)
    # An older correction no longer counts once K clean months follow it.
    assert trust([PastStatement("2026-05", False), *clean], [], policy).trusted
    months = [month(f"C{i}", 2_000_00 + i * 1_000) for i in range(9)] + [month("OUT", 6_000_00)]
    flags = [f for f in peer_flags(months, FLAGS) if f.clinic == "OUT"]
    assert not trust(clean, flags, policy).trusted


def test_the_sample_is_reproducible_and_holds_every_pointed_and_big_visit() -> None:
    policy = ReviewPolicy(trusted_after_months=3, sample_percent=10, sample_above=10_000)
    candidates = [SampleCandidate(i, 2_000) for i in range(1, 101)]
    candidates[4] = SampleCandidate(5, 2_000, ("split_visit",))
    candidates[9] = SampleCandidate(10, 12_000)
    seed = sample_seed("440114", "2026-10", "HD001", "salt")
    first = draw_sample(candidates, policy, seed)
    assert first == draw_sample(list(reversed(candidates)), policy, seed)  # order-independent
    why = {item.visit_id: item.why for item in first}
    assert why[5] == ("rule:split_visit",) and why[10] == ("above:10000",)
    assert sum(1 for w in why.values() if w == ("random",)) == 10  # 10 % of 98, rounded up
    other = draw_sample(candidates, policy, sample_seed("440114", "2026-10", "HD002", "salt"))
    assert {i.visit_id for i in other} != set(why)


def test_auto_submit_from_day_d_of_the_next_month() -> None:
    policy = OversightPolicy(auto_submit_day=5)
    assert not auto_submit_due("2026-10", dt.date(2026, 11, 4), policy)
    assert auto_submit_due("2026-10", dt.date(2026, 11, 5), policy)
    assert auto_submit_due("2026-12", dt.date(2027, 1, 5), policy)
    assert not auto_submit_due("2026-10", dt.date(2026, 12, 30), OversightPolicy())


def test_the_policy_is_stored_as_canonical_json_and_read_back_whole() -> None:
    from app.checks.rules import oversight_from_json, oversight_to_json, policy_lines

    policy = OversightPolicy(
        severities={Rule.LATE_ENTRY: Severity.WARN},
        late_entry_hours=48,
        flags=FLAGS,
        review=REVIEW,
        auto_submit_day=5,
    )
    text = oversight_to_json(policy)
    assert oversight_from_json(text) == policy
    assert '"threshold": "7/2"' in text and '"sample_above": 10000' in text
    assert oversight_from_json(None) == OversightPolicy()
    # A version stored before [flags], [review] and [auto_submit] existed reads as off.
    old = '{"late_entry_hours": 72, "severities": {"late_entry": "warn"}}'
    assert oversight_from_json(old) == OversightPolicy(
        severities={Rule.LATE_ENTRY: Severity.WARN}, late_entry_hours=72
    )
    assert policy_lines(policy)[1:] == [
        "[flags] threshold=3.5 min_peers=5 min_count=3",
        "[review] trusted_after_months=3 sample_percent=5 sample_above=100.00",
        "[auto_submit] day=5",
    ]
    assert policy_lines(OversightPolicy())[1:] == [
        "[flags] off",
        "[review] off",
        "[auto_submit] off",
    ]


def test_visits_already_on_the_worklist_withhold_trust_and_late_findings_move_on() -> None:
    from app.checks.rules import ReviewPolicy, trust, worklist_month_for

    policy = ReviewPolicy(trusted_after_months=0, sample_percent=5, sample_above=10000)
    assert trust([], [], policy).trusted
    waiting = trust([], [], policy, pending=2)
    assert not waiting.trusted and waiting.reasons == ("pending:2",)
    statuses = {"2026-08": "paid", "2026-09": "reviewed", "2026-10": "submitted"}
    assert worklist_month_for("2026-08", statuses) == "2026-10"
    assert worklist_month_for("2026-10", statuses) == "2026-10"
    assert worklist_month_for("2026-11", statuses) == "2026-11"  # no statement yet: open
    assert worklist_month_for("2026-12", {"2026-12": "paid"}) == "2027-01"


def test_a_register_billed_wholesale_stands_out_from_the_population() -> None:
    # Peers: 100 visits by ~70 people of a 1,000-person village, ~6 % of it seen.
    months = [month(f"C{i}", 2_000_00, patients=68 + i, residents_seen=55 + i) for i in range(9)]
    # The phantom clinic: 600 visits of 150 people, 40 % of the village "seen" in a month.
    months.append(month("P", 12_000_00, visits=600, patients=150, residents_seen=400))
    flagged = {(f.clinic, f.figure) for f in peer_flags(months, FLAGS)}
    assert ("P", Figure.VISITS_PER_PATIENT) in flagged
    assert ("P", Figure.RESIDENTS_SEEN_SHARE) in flagged
    assert ("P", Figure.VISITS_PER_RESIDENT) in flagged
    assert {clinic for clinic, _ in flagged} == {"P"}
    phantom = months[-1]
    assert phantom.figure(Figure.VISITS_PER_PATIENT) == 4
    assert phantom.figure(Figure.RESIDENTS_SEEN_SHARE) == Fraction(2, 5)


def test_the_six_characters_and_the_twelve_months() -> None:
    import datetime as dt

    from app.checks.rules import id_tail_matches, own_visits_since

    number = "44011419600307100X"
    assert id_tail_matches(number, "07100x") and id_tail_matches(number, " 07100X ")
    assert not id_tail_matches(number, "7100X") and not id_tail_matches(number, "071001")
    assert own_visits_since(dt.date(2026, 12, 8)) == dt.date(2025, 12, 9)
    assert own_visits_since(dt.date(2028, 2, 29)) == dt.date(2027, 3, 1)


def test_a_clinic_living_off_the_consultation_fee_is_flagged() -> None:
    """Issue 19: the consultation fee's share of the fund base, against the peers'."""
    months = [
        month(f"C{i}", 2_000_00, fund_base=1_500_00, consultation_base=(50 + i) * 10_00)
        for i in range(9)
    ]
    months.append(month("FEE", 2_000_00, fund_base=1_500_00, consultation_base=1_400_00))
    (flag,) = peer_flags(months, FLAGS)
    assert (flag.clinic, flag.figure) == ("FEE", Figure.CONSULTATION_SHARE)
    # The middle of the ten: (54.00 + 55.00) / 2 of 150.00.
    assert flag.value == Fraction(14, 15) and flag.median == Fraction(545, 1500)


# --- the diagnosis mix (issue 19 §5, issue 26 §3) ------------------------------------------


def _mix(clinic: str, visits: int, residents: int, **codes: tuple[int, int]) -> ClinicDiagnoses:
    return ClinicDiagnoses(
        clinic, visits, residents, {k.replace("_", "."): v for k, v in codes.items()}
    )


def _normal_district() -> list[ClinicDiagnoses]:
    """Nine clinics of ~2,000 residents: colds everywhere, a stroke now and then."""
    return [
        _mix(f"C{i}", 300 + i, 2_000 + 10 * i, J06_900=(120 + i, 110 + i), I64_x00=(i % 3, i % 3))
        for i in range(9)
    ]


def test_a_village_with_phantom_strokes_is_flagged_on_share_and_prevalence() -> None:
    """Shan County: 2,164 people, hundreds of "strokes" in a month; the peers have a few."""
    months = [*_normal_district(), _mix("PH", 600, 2_164, J06_900=(130, 120), I64_x00=(260, 260))]
    flags = [f for f in diagnosis_flags(months, FLAGS) if f.clinic == "PH"]
    assert {(f.figure, f.diagnosis) for f in flags} == {
        (Figure.DIAGNOSIS_SHARE, "I64.x00"),
        (Figure.DIAGNOSIS_PREVALENCE, "I64.x00"),
    }
    prevalence = next(f for f in flags if f.figure is Figure.DIAGNOSIS_PREVALENCE)
    assert prevalence.value == Fraction(260 * 1000, 2_164)  # ≈ 120.1 per 1,000
    assert prevalence.peers == 10 and prevalence.score > FLAGS.threshold
    # The colds are like everyone's: no flag on J06.
    assert not [f for f in diagnosis_flags(months, FLAGS) if f.diagnosis == "J06.900"]


def test_one_odd_diagnosis_in_a_quiet_clinic_is_not_a_flag() -> None:
    """Below min_count people (or visits) with the diagnosis: never flagged, however rare."""
    months = [
        *[_mix(f"C{i}", 300, 2_000, J06_900=(120, 110)) for i in range(9)],
        _mix("ONE", 20, 300, J06_900=(8, 8), C61=(1, 1)),
    ]
    assert FLAGS.min_count > 1
    assert diagnosis_flags(months, FLAGS) == []
    enough = replace(FLAGS, min_count=1)
    assert {f.figure for f in diagnosis_flags(months, enough) if f.diagnosis == "C61"} == {
        Figure.DIAGNOSIS_SHARE,
        Figure.DIAGNOSIS_PREVALENCE,
    }


def test_diagnosis_flags_need_enough_peers_and_skip_a_clinic_without_residents() -> None:
    few = [_mix("A", 100, 1_000, I64_x00=(50, 50)), _mix("B", 100, 1_000, I64_x00=(1, 1))]
    assert diagnosis_flags(few, FLAGS) == []
    months = [*_normal_district(), _mix("NR", 600, 0, I64_x00=(260, 260))]
    flags = [f for f in diagnosis_flags(months, FLAGS) if f.clinic == "NR"]
    # No registered residents: no prevalence, but the share still compares.
    assert [f.figure for f in flags] == [Figure.DIAGNOSIS_SHARE]


def test_peer_flags_never_compute_a_diagnosis_figure_from_a_clinic_month() -> None:
    months = [month(f"C{i}", 30_00 + i) for i in range(9)]
    assert all(m.figure(Figure.DIAGNOSIS_SHARE) is None for m in months)
    assert not [f for f in peer_flags(months, FLAGS) if f.figure in DIAGNOSIS_FIGURES]


def test_stock_flags_count_the_visits_behind_each_kind() -> None:
    pointed = {
        1: ["dispensed_far_above", "dispensed_over_delivered"],
        2: ["dispensed_far_above"],
        3: ["split_visit"],  # not a stock kind
    }
    flags = stock_flags("HD001", pointed)
    assert [(f.figure, f.value, f.score, f.peers) for f in flags] == [
        (Figure.STOCK_FAR_ABOVE, 2, 2, 0),
        (Figure.STOCK_OVERDRAWN, 1, 1, 0),
    ]
    assert stock_flags("HD001", {}) == []
    # A stock figure is never a peer figure.
    assert not set(STOCK_FIGURES) & set(CLINIC_FIGURES)
