"""The pure rules of "policy delivery 2.0" (政策直达 2.0): check once, up front; trust earns speed.

Four parts, each a pure function of plain values (no Flask, no SQLAlchemy,
no clock — times and histories are passed in), each driven by the district's
versioned policy (:class:`OversightPolicy`), never by a literal:

* :func:`run_checks` — the checks at recording (事前审核).  Every rule is
  ``off``, ``warn`` or ``block``; a hit names its rule, its severity and the
  inputs that made it fire, so the hit can be stored with the visit and
  explained in Chinese by its code.
* :func:`peer_flags` — risk flags against the district's other clinics with
  robust statistics: the modified z-score ``0.6745 · (x − median) / MAD``
  (Iglewicz & Hoaglin), so one extreme clinic cannot hide itself by inflating
  a mean and a standard deviation.  Exact arithmetic (``Fraction``) throughout.
* :func:`trust` — credit-first (信用优先): a clinic whose last K statements
  were accepted without correction and that has no flag this month is
  trusted, and says why (or why not).
* :func:`draw_sample` — the review worklist of an untrusted statement: every
  visit a rule or flag points at, every visit above a value threshold, and a
  seeded, reproducible random percentage of the rest (the openIMIS pattern).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from app.money import format_yuan

# --- policy ---------------------------------------------------------------------------


class Severity(StrEnum):
    OFF = "off"
    WARN = "warn"
    BLOCK = "block"


class Rule(StrEnum):
    QUANTITY_OVER_MAX = "quantity_over_max"
    FREQUENT_VISITS = "frequent_visits"
    SPLIT_VISIT = "split_visit"
    EARLY_REFILL = "early_refill"
    INJECTION_WITHOUT_INJECTABLE = "injection_without_injectable"
    INJECTABLE_WITHOUT_INJECTION = "injectable_without_injection"
    UNSUITED_ITEM = "unsuited_item"
    LATE_ENTRY = "late_entry"
    # Diagnoses (issue 19): none recorded; a drug outside its listed indications; a
    # diagnosis that does not suit the patient's sex or age.
    NO_DIAGNOSIS = "no_diagnosis"
    OFF_INDICATION = "off_indication"
    UNSUITED_DIAGNOSIS = "unsuited_diagnosis"


@dataclass(frozen=True)
class FlagPolicy:
    """The ``[flags]`` table: when a clinic-month's figure is far enough from its peers'."""

    threshold: Fraction  # |modified z-score| above this flags a figure (3.5 is the usual cut)
    min_peers: int  # fewer clinics with the figure than this: no comparison
    # A figure that counts events (injections, warned, late, voided, complained-about
    # visits; visits for visits per resident) flags a clinic only when it counts at
    # least this many: one void in a quiet month is not a risk.
    min_count: int
    # Drug stock (issue 26 §4): a month's dispensing of an item above this multiple of
    # its deliveries in that month and the two before is flagged; None: not checked.
    stock_far_above: Fraction | None = None


@dataclass(frozen=True)
class ReviewPolicy:
    """The ``[review]`` table: credit-first payment (信用优先) and the sampled worklist."""

    trusted_after_months: int  # K statements in a row accepted without correction
    sample_percent: int  # of the visits nothing else points at
    sample_above: int  # fen: every visit whose total is above this is on the worklist


@dataclass(frozen=True)
class OversightPolicy:
    """A district's oversight settings, part of its policy version (SPEC §2, issue 11).

    Every number comes from the policy file; what a file leaves out is off:
    a rule not named never fires, no ``[flags]`` compares no one, no
    ``[review]`` leaves every statement to a person, no ``[auto_submit]``
    never submits for the doctor.  A threshold a rule needs is required by
    the file's schema when the rule is on; here a missing one keeps it silent.
    """

    severities: Mapping[Rule, Severity] = field(default_factory=dict)
    frequent_visits_max: int | None = None  # more than this many visits …
    frequent_visits_days: int | None = None  # … in this many days, at any clinic
    # Recorded this many hours or more after the visit: late (the rule, the late
    # share among the peer figures, and the worklist); None: nothing is late.
    late_entry_hours: int | None = None
    flags: FlagPolicy | None = None
    review: ReviewPolicy | None = None  # None: a person reviews every statement
    auto_submit_day: int | None = None  # day D of the next month; None: never

    def severity(self, rule: Rule) -> Severity:
        return self.severities.get(rule, Severity.OFF)

    @property
    def checks_on(self) -> bool:
        """Whether any check at recording can fire (none: recording reads no history)."""
        return any(self.severity(rule) is not Severity.OFF for rule in Rule)


# The settings of the checks at recording a policy version stores (SPEC §2, ``[checks]``).
CHECK_THRESHOLDS = ("frequent_visits_max", "frequent_visits_days", "late_entry_hours")


def oversight_to_json(policy: OversightPolicy) -> str:
    """The whole policy as canonical JSON text (sorted keys: equal settings, equal text).

    Absent parts are left out, so a version stored before a table existed reads
    back the same.  The flag threshold is an exact fraction written ``"7/2"``.
    """
    body: dict[str, object] = {
        "severities": {rule.value: policy.severity(rule).value for rule in Rule},
        **{n: getattr(policy, n) for n in CHECK_THRESHOLDS if getattr(policy, n) is not None},
    }
    if policy.flags is not None:
        flags_body: dict[str, object] = {
            "threshold": str(policy.flags.threshold),
            "min_peers": policy.flags.min_peers,
            "min_count": policy.flags.min_count,
        }
        if policy.flags.stock_far_above is not None:  # absent before issue 26: same text
            flags_body["stock_far_above"] = str(policy.flags.stock_far_above)
        body["flags"] = flags_body
    if policy.review is not None:
        body["review"] = {
            "trusted_after_months": policy.review.trusted_after_months,
            "sample_percent": policy.review.sample_percent,
            "sample_above": policy.review.sample_above,
        }
    if policy.auto_submit_day is not None:
        body["auto_submit_day"] = policy.auto_submit_day
    return json.dumps(body, sort_keys=True)


def oversight_from_json(text: str | None) -> OversightPolicy:
    """The settings :func:`oversight_to_json` wrote; None or empty: everything off."""
    if not text:
        return OversightPolicy()
    body = json.loads(text)
    severities = {
        Rule(k): Severity(v) for k, v in body.get("severities", {}).items() if v != Severity.OFF
    }
    flags = body.get("flags")
    review = body.get("review")
    return OversightPolicy(
        severities=severities,
        frequent_visits_max=body.get("frequent_visits_max"),
        frequent_visits_days=body.get("frequent_visits_days"),
        late_entry_hours=body.get("late_entry_hours"),
        flags=FlagPolicy(
            threshold=Fraction(flags["threshold"]),
            min_peers=int(flags["min_peers"]),
            min_count=int(flags["min_count"]),
            stock_far_above=Fraction(flags["stock_far_above"])
            if "stock_far_above" in flags
            else None,
        )
        if flags
        else None,
        review=ReviewPolicy(
            trusted_after_months=int(review["trusted_after_months"]),
            sample_percent=int(review["sample_percent"]),
            sample_above=int(review["sample_above"]),
        )
        if review
        else None,
        auto_submit_day=body.get("auto_submit_day"),
    )


def _decimal_text(value: Fraction) -> str:
    """A fraction read from a decimal in the file, written back the same way (7/2 → 3.5)."""
    whole, rest = divmod(value.numerator, value.denominator)
    digits = ""
    while rest and len(digits) < 12:
        rest *= 10
        digit, rest = divmod(rest, value.denominator)
        digits += str(digit)
    return f"{whole}.{digits}" if digits else str(whole)


def policy_lines(policy: OversightPolicy) -> list[str]:
    """The oversight tables as the policy file writes them, one line a table ("off": absent)."""
    checks = [f"{rule.value}={policy.severity(rule).value}" for rule in Rule]
    checks += [f"{n}={getattr(policy, n)}" for n in CHECK_THRESHOLDS if getattr(policy, n)]
    flags = policy.flags
    review = policy.review
    return [
        "[checks] " + " ".join(checks),
        "[flags] "
        + (
            f"threshold={_decimal_text(flags.threshold)} min_peers={flags.min_peers}"
            f" min_count={flags.min_count}"
            + (
                f" stock_far_above={_decimal_text(flags.stock_far_above)}"
                if flags.stock_far_above is not None
                else ""
            )
            if flags
            else "off"
        ),
        "[review] "
        + (
            f"trusted_after_months={review.trusted_after_months}"
            f" sample_percent={review.sample_percent}"
            f" sample_above={format_yuan(review.sample_above)}"
            if review
            else "off"
        ),
        "[auto_submit] "
        + (f"day={policy.auto_submit_day}" if policy.auto_submit_day is not None else "off"),
    ]


# --- checks at recording ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckLine:
    item: str
    name: str
    quantity: int  # thousandths
    max_per_visit: int | None  # thousandths; None: no maximum
    units_per_day: int | None  # thousandths of a unit a day; None: not a supply
    injectable: bool
    sex: str | None  # "M" or "F" when the item suits only one sex
    min_age: int | None
    max_age: int | None
    # Diagnosis code prefixes the item is indicated for (the catalogue's
    # ``indications``); empty: not checked.
    indications: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckInput:
    lines: Sequence[CheckLine]
    injection: bool
    sex: str | None  # the patient's, from the ID number
    birth_date: dt.date | None
    visit_date: dt.date  # Asia/Shanghai
    visited_at: dt.datetime
    recorded_at: dt.datetime
    # The person's other (unvoided) visits: their dates, at any clinic, recent first …
    recent_visit_dates: Sequence[dt.date] = ()
    # … how many of them were at this clinic on this day …
    same_clinic_same_day: int = 0
    # … and, per item, the day the last supply of it runs out.
    supply_until: Mapping[str, dt.date] = field(default_factory=dict)
    # The visit's diagnosis codes, the main one first.
    diagnoses: Sequence[str] = ()


@dataclass(frozen=True)
class Hit:
    """A rule that fired: what, how severe, and the inputs behind it."""

    rule: Rule
    severity: Severity
    subject: str = ""  # the item code it is about, if any
    facts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DiagnosisLimit:
    """Diagnoses (by code prefix) that suit only one sex, or only some ages."""

    prefixes: tuple[str, ...]
    sex: str | None = None  # "M" or "F"
    min_age: int | None = None
    max_age: int | None = None


# A small table of the ICD-10 chapters and blocks that cannot concern every
# patient: a district may not need more to catch a typed-in wrong code.
DIAGNOSIS_LIMITS = (
    DiagnosisLimit(("C53", "C54", "C55", "C56", "D25", "D26", "D27", "N70", "N71", "N72",
                    "N73", "N75", "N76", "N77", "N80", "N81", "N83", "N84", "N85", "N86",
                    "N87", "N88", "N89", "N9"), sex="F"),
    DiagnosisLimit(("O",), sex="F", min_age=10, max_age=60),  # pregnancy and childbirth
    DiagnosisLimit(("C61", "C62", "D29", "D40", "N40", "N41", "N42", "N43", "N44", "N45",
                    "N46", "N47", "N48", "N49", "N50", "N51"), sex="M"),
    DiagnosisLimit(("P",), max_age=1),  # the perinatal period
    DiagnosisLimit(("E30.0", "E30.1"), max_age=18),  # delayed / precocious puberty
    DiagnosisLimit(("N95",), sex="F", min_age=35),  # menopausal disorders
)  # fmt: skip


def diagnosis_limit(code: str) -> DiagnosisLimit | None:
    """The limit of the longest prefix matching ``code``, or None."""
    best: tuple[int, DiagnosisLimit] | None = None
    for limit in DIAGNOSIS_LIMITS:
        for prefix in limit.prefixes:
            if code.upper().startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), limit)
    return best[1] if best else None


def indication_prefixes(text: str | None) -> tuple[str, ...]:
    """The catalogue's ``indications`` cell (``J06 J20 J40`` or ``J06,J20``) as prefixes."""
    return tuple(p for p in (text or "").replace(",", " ").split() if p)


def indicated(indications: Sequence[str], diagnoses: Sequence[str]) -> bool:
    """Some diagnosis starts with one of the item's indicated prefixes (any case)."""
    return any(d.upper().startswith(p.upper()) for d in diagnoses for p in indications)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _supply_days(line: CheckLine) -> int:
    """Whole days a quantity lasts at the daily use (rounded up: a part day still counts)."""
    assert line.units_per_day
    return -(-line.quantity // line.units_per_day)


def supply_end(line: CheckLine, day: dt.date) -> dt.date | None:
    """The day a supply dispensed on ``day`` runs out (None when the item is not a supply)."""
    if not line.units_per_day:
        return None
    return day + dt.timedelta(days=_supply_days(line))


def run_checks(policy: OversightPolicy, visit: CheckInput) -> list[Hit]:
    """Every rule that fires on this visit, in rule order; rules set to ``off`` never fire."""
    hits: list[Hit] = []

    def fire(rule: Rule, subject: str = "", **facts: object) -> None:
        severity = policy.severity(rule)
        if severity is not Severity.OFF:
            hits.append(Hit(rule, severity, subject, {k: str(v) for k, v in facts.items()}))

    for line in visit.lines:
        if line.max_per_visit is not None and line.quantity > line.max_per_visit:
            fire(
                Rule.QUANTITY_OVER_MAX,
                line.item,
                quantity=line.quantity,
                maximum=line.max_per_visit,
            )

    days, most = policy.frequent_visits_days, policy.frequent_visits_max
    if days is not None and most is not None:
        window_start = visit.visit_date - dt.timedelta(days=days - 1)
        in_window = sum(
            1 for d in visit.recent_visit_dates if window_start <= d <= visit.visit_date
        )
        if in_window + 1 > most:
            fire(Rule.FREQUENT_VISITS, visits=in_window + 1, days=days, maximum=most)

    if visit.same_clinic_same_day > 0:
        fire(Rule.SPLIT_VISIT, earlier=visit.same_clinic_same_day)

    for line in visit.lines:
        until = visit.supply_until.get(line.item)
        if line.units_per_day and until is not None and until > visit.visit_date:
            fire(
                Rule.EARLY_REFILL,
                line.item,
                until=until.isoformat(),
                days_left=(until - visit.visit_date).days,
            )

    injectables = [line.item for line in visit.lines if line.injectable]
    if visit.injection and not injectables:
        fire(Rule.INJECTION_WITHOUT_INJECTABLE)
    if injectables and not visit.injection:
        fire(Rule.INJECTABLE_WITHOUT_INJECTION, injectables[0])

    age = age_on(visit.birth_date, visit.visit_date) if visit.birth_date else None
    for line in visit.lines:
        if line.sex and visit.sex and line.sex != visit.sex:
            fire(Rule.UNSUITED_ITEM, line.item, sex=visit.sex, item_sex=line.sex)
        elif age is not None and line.min_age is not None and age < line.min_age:
            fire(Rule.UNSUITED_ITEM, line.item, age=age, min_age=line.min_age)
        elif age is not None and line.max_age is not None and age > line.max_age:
            fire(Rule.UNSUITED_ITEM, line.item, age=age, max_age=line.max_age)

    late, limit = visit.recorded_at - visit.visited_at, policy.late_entry_hours
    if limit is not None and late >= dt.timedelta(hours=limit):
        fire(Rule.LATE_ENTRY, hours=int(late.total_seconds() // 3600), limit=limit)

    if not visit.diagnoses:
        fire(Rule.NO_DIAGNOSIS)
    else:
        for line in visit.lines:
            if line.indications and not indicated(line.indications, visit.diagnoses):
                fire(
                    Rule.OFF_INDICATION,
                    line.item,
                    diagnoses=",".join(visit.diagnoses),
                    indications=",".join(line.indications),
                )
    for code in visit.diagnoses:
        rule = diagnosis_limit(code)
        if rule is None:
            continue
        if rule.sex and visit.sex and rule.sex != visit.sex:
            fire(Rule.UNSUITED_DIAGNOSIS, code=code, sex=visit.sex, diagnosis_sex=rule.sex)
        elif age is not None and rule.min_age is not None and age < rule.min_age:
            fire(Rule.UNSUITED_DIAGNOSIS, code=code, age=age, min_age=rule.min_age)
        elif age is not None and rule.max_age is not None and age > rule.max_age:
            fire(Rule.UNSUITED_DIAGNOSIS, code=code, age=age, max_age=rule.max_age)
    return hits


def blocking(hits: Iterable[Hit]) -> list[Hit]:
    return [h for h in hits if h.severity is Severity.BLOCK]


def warnings(hits: Iterable[Hit]) -> list[Hit]:
    return [h for h in hits if h.severity is Severity.WARN]


# --- risk flags against peers ------------------------------------------------------------


class Figure(StrEnum):
    COST_PER_VISIT = "cost_per_visit"
    FUND_PER_VISIT = "fund_per_visit"
    FISCAL_PER_VISIT = "fiscal_per_visit"
    INJECTION_RATE = "injection_rate"
    VISITS_PER_RESIDENT = "visits_per_resident"
    WARNING_SHARE = "warning_share"
    LATE_SHARE = "late_share"
    VOID_SHARE = "void_share"
    COMPLAINT_SHARE = "complaint_share"  # patients who said they paid more than the receipt
    DISOWNED_SHARE = "disowned_share"  # visits the patient says never happened (issue 26)
    # From the population (issue 26 §3): repeat visits per person seen, and the share of
    # the clinic's village's registered residents seen in the month (a register billed
    # wholesale shows in both, and in visits per resident).
    VISITS_PER_PATIENT = "visits_per_patient"
    RESIDENTS_SEEN_SHARE = "residents_seen_share"
    # The consultation fee's (一般诊疗费) share of the fund base: a clinic living off
    # the fee rather than treating (issue 19).
    CONSULTATION_SHARE = "consultation_share"
    # The diagnosis mix (issue 19 §5, issue 26 §3), one flag per diagnosis code: the
    # share of the clinic's visits carrying the code, and the people with it per 1,000
    # registered residents of the clinic's village (a village of 2,164 people with
    # 2,908 "strokes").  Computed by :func:`diagnosis_flags`, not from a ClinicMonth.
    DIAGNOSIS_SHARE = "diagnosis_share"
    DIAGNOSIS_PREVALENCE = "diagnosis_prevalence"
    # Drug stock (issue 26 §4): not against peers but against the clinic's own book —
    # stored like the peer flags so the reviewer's board shows them (:func:`stock_flags`).
    STOCK_OVERDRAWN = "dispensed_over_delivered"
    STOCK_FAR_ABOVE = "dispensed_far_above"
    STOCK_TRACE_TWICE = "trace_code_twice"


DIAGNOSIS_FIGURES = (Figure.DIAGNOSIS_SHARE, Figure.DIAGNOSIS_PREVALENCE)
STOCK_FIGURES = (Figure.STOCK_OVERDRAWN, Figure.STOCK_FAR_ABOVE, Figure.STOCK_TRACE_TWICE)
CLINIC_FIGURES = tuple(f for f in Figure if f not in DIAGNOSIS_FIGURES + STOCK_FIGURES)


@dataclass(frozen=True)
class ClinicMonth:
    """A clinic's month, as counts and sums (the ratios are derived here, exactly)."""

    clinic: str
    visits: int  # unvoided
    programme: int  # unvoided programme visits (the only ones with a backstop)
    total: int  # fen
    fund: int
    fiscal: int
    injections: int
    residents: int  # registered residents of the clinic's village
    warned: int  # visits recorded with a warning
    late: int  # visits entered late
    voided: int
    complaints: int = 0
    disowned: int = 0  # visits whose patient said "我没有在这天看病"
    patients: int = 0  # distinct people among the unvoided visits
    residents_seen: int = 0  # distinct registered residents of the clinic's village among them
    fund_base: int = 0  # fen: what the fund's ratio applied to, all lines
    consultation_base: int = 0  # fen: the consultation lines' part of it

    def figure(self, which: Figure) -> Fraction | None:
        """The figure as an exact fraction; None when its denominator is zero (or for a
        diagnosis figure, which is not a clinic-month's).  Only the asked one is made."""
        parts = _RATIOS.get(which)
        if parts is None:
            return None
        part, whole = parts(self)
        return Fraction(part, whole) if whole else None

    def count(self, which: Figure) -> int:
        """How many events the figure rests on: its counted visits, or the visits averaged."""
        counted = _COUNTS.get(which)
        return counted(self) if counted is not None else 0


# Each clinic figure as (part, whole) of a clinic-month.
_RATIOS: dict[Figure, Callable[[ClinicMonth], tuple[int, int]]] = {
    Figure.COST_PER_VISIT: lambda m: (m.total, m.visits),
    Figure.FUND_PER_VISIT: lambda m: (m.fund, m.visits),
    # Per programme visit: a clinic outside the programme has no backstop to
    # compare, and its non-programme visits would dilute one that has.
    Figure.FISCAL_PER_VISIT: lambda m: (m.fiscal, m.programme),
    Figure.INJECTION_RATE: lambda m: (m.injections, m.visits),
    Figure.VISITS_PER_RESIDENT: lambda m: (m.visits, m.residents),
    Figure.WARNING_SHARE: lambda m: (m.warned, m.visits),
    Figure.LATE_SHARE: lambda m: (m.late, m.visits),
    Figure.VOID_SHARE: lambda m: (m.voided, m.visits + m.voided),
    Figure.COMPLAINT_SHARE: lambda m: (m.complaints, m.visits),
    Figure.DISOWNED_SHARE: lambda m: (m.disowned, m.visits),
    Figure.VISITS_PER_PATIENT: lambda m: (m.visits, m.patients),
    Figure.RESIDENTS_SEEN_SHARE: lambda m: (m.residents_seen, m.residents),
    Figure.CONSULTATION_SHARE: lambda m: (m.consultation_base, m.fund_base),
}

# How many events each clinic figure rests on.
_COUNTS: dict[Figure, Callable[[ClinicMonth], int]] = {
    Figure.COST_PER_VISIT: lambda m: m.visits,
    Figure.FUND_PER_VISIT: lambda m: m.visits,
    Figure.FISCAL_PER_VISIT: lambda m: m.programme,
    Figure.INJECTION_RATE: lambda m: m.injections,
    Figure.VISITS_PER_RESIDENT: lambda m: m.visits,
    Figure.WARNING_SHARE: lambda m: m.warned,
    Figure.LATE_SHARE: lambda m: m.late,
    Figure.VOID_SHARE: lambda m: m.voided,
    Figure.COMPLAINT_SHARE: lambda m: m.complaints,
    Figure.DISOWNED_SHARE: lambda m: m.disowned,
    # The repeat visits: a person seen twice in a quiet month is no pattern.
    Figure.VISITS_PER_PATIENT: lambda m: m.visits - m.patients,
    Figure.RESIDENTS_SEEN_SHARE: lambda m: m.residents_seen,
    Figure.CONSULTATION_SHARE: lambda m: m.visits,
}


@dataclass(frozen=True)
class Flag:
    """A clinic's figure far from its peers': which, how far, against what."""

    clinic: str
    figure: Figure
    value: Fraction
    median: Fraction
    mad: Fraction
    score: Fraction  # the modified z-score (above the threshold: always positive)
    peers: int
    diagnosis: str | None = None  # the diagnosis code of a diagnosis-mix flag


def median(values: Sequence[Fraction]) -> Fraction:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of nothing")
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# 0.6745 is the 0.75 quantile of the standard normal: it scales the MAD to a
# standard deviation for normal data (Iglewicz & Hoaglin, 1993).
_Z_SCALE = Fraction(6745, 10000)


def _outliers(
    values: Mapping[str, Fraction], counts: Mapping[str, int], policy: FlagPolicy
) -> list[tuple[str, Fraction, Fraction, Fraction, Fraction]]:
    """(clinic, value, median, MAD, score) of every value far above its peers'.

    Every clinic in ``values`` is a peer; one is flagged only when its
    modified z-score is above the threshold and its count is at least
    ``min_count``.  Fewer than ``min_peers`` values: no comparison.
    """
    if len(values) < policy.min_peers:
        return []
    mid = median(list(values.values()))
    mad = median([abs(v - mid) for v in values.values()])
    if mad == 0:
        # Most clinics identical (e.g. no complaints anywhere): anyone off that
        # value stands out, scored against the mean absolute deviation instead.
        mean_ad = sum((abs(v - mid) for v in values.values()), Fraction(0)) / len(values)
        if mean_ad == 0:
            return []
        spread = mean_ad * Fraction(1253314, 1000000)  # ≈ sqrt(pi/2)
        scale = Fraction(1)
    else:
        spread, scale = mad, _Z_SCALE
    # score > threshold exactly when value > mid + threshold * spread / scale (spread
    # and scale are positive): one comparison per peer, the score made only for those above.
    bound = mid + policy.threshold * spread / scale
    out = []
    for clinic, value in values.items():
        if value > bound and counts.get(clinic, 0) >= policy.min_count:
            out.append((clinic, value, mid, mad, scale * (value - mid) / spread))
    return out


def _ranked(flags: list[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda f: (-abs(f.score), f.clinic, f.figure, f.diagnosis or ""))


def peer_flags(months: Sequence[ClinicMonth], policy: FlagPolicy) -> list[Flag]:
    """Every clinic figure whose modified z-score is above the policy's threshold.

    A flag is a risk, and every figure is riskier high (more cost, backstop,
    injections, visits per resident, warned, late, voided or complained-about
    visits, more of the fund going to the consultation fee): a clinic below its
    peers is not flagged — with a few visits a month, a cheap one would be noise
    on the reviewer's board.  Every clinic
    with the figure is a peer (it counts for the median and the MAD), but a
    clinic is flagged on a figure only when the figure rests on at least
    ``min_count`` events (:meth:`ClinicMonth.count`): with most clinics at
    zero voids the MAD is zero, and a single void must not read as a risk.
    """
    flags: list[Flag] = []
    for which in CLINIC_FIGURES:
        values = {m.clinic: v for m in months if (v := m.figure(which)) is not None}
        counts = {m.clinic: m.count(which) for m in months}
        for clinic, value, mid, mad, score in _outliers(values, counts, policy):
            flags.append(Flag(clinic, which, value, mid, mad, score, len(values)))
    return _ranked(flags)


@dataclass(frozen=True)
class ClinicDiagnoses:
    """A clinic-month's diagnosis mix: per diagnosis code, the unvoided visits carrying it
    (as the main or another diagnosis) and the distinct people they were for."""

    clinic: str
    visits: int  # unvoided visits of the month, with a diagnosis or not
    residents: int  # registered residents of the clinic's village
    by_code: Mapping[str, tuple[int, int]]  # code -> (visits with it, people with it)


PER_RESIDENTS = 1000  # prevalence is per 1,000 registered residents


def diagnosis_flags(months: Sequence[ClinicDiagnoses], policy: FlagPolicy) -> list[Flag]:
    """Per diagnosis code, the clinics whose share of it or prevalence of it is far above
    their peers' (the mechanism and thresholds of :func:`peer_flags`).

    Share: visits carrying the code / the clinic's visits.  Prevalence: people
    with it / registered residents × 1,000.  Every clinic with visits (with
    residents, for prevalence) is a peer for every code, at zero when it never
    recorded it — so one clinic's phantom strokes stand out against peers that
    have none.  The count behind a share is its visits with the code, behind a
    prevalence its people with it: fewer than ``min_count`` never flags.
    """
    flags: list[Flag] = []
    codes = sorted({code for m in months for code in m.by_code})
    for code in codes:
        share = {
            m.clinic: Fraction(m.by_code.get(code, (0, 0))[0], m.visits) for m in months if m.visits
        }
        share_counts = {m.clinic: m.by_code.get(code, (0, 0))[0] for m in months}
        prevalence = {
            m.clinic: Fraction(m.by_code.get(code, (0, 0))[1] * PER_RESIDENTS, m.residents)
            for m in months
            if m.residents
        }
        people = {m.clinic: m.by_code.get(code, (0, 0))[1] for m in months}
        for which, values, counts in (
            (Figure.DIAGNOSIS_SHARE, share, share_counts),
            (Figure.DIAGNOSIS_PREVALENCE, prevalence, people),
        ):
            for clinic, value, mid, mad, score in _outliers(values, counts, policy):
                flags.append(Flag(clinic, which, value, mid, mad, score, len(values), code))
    return _ranked(flags)


def stock_flags(clinic: str, pointed: Mapping[int, Sequence[str]]) -> list[Flag]:
    """A clinic-month's drug-stock flags as flags: one per kind, from the visits each
    kind points at (``pointed``: visit id -> kinds, as the stock area finds them).

    A stock flag is a fact of the clinic's own book, not a distance from peers:
    its value and score are the number of visits behind it (so the board ranks
    it among the others), its median and MAD zero, its peers none.
    """
    counts: dict[Figure, int] = {}
    for kinds in pointed.values():
        for kind in set(kinds):
            if kind in set(STOCK_FIGURES):
                counts[Figure(kind)] = counts.get(Figure(kind), 0) + 1
    return [
        Flag(clinic, which, Fraction(n), Fraction(0), Fraction(0), Fraction(n), 0)
        for which, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


# --- credit-first ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PastStatement:
    month: str
    accepted_clean: bool  # reviewed and paid without a return or a disallowed visit


@dataclass(frozen=True)
class TrustDecision:
    trusted: bool
    reasons: tuple[str, ...]  # codes, e.g. ("clean_months:3",) or ("flagged:cost_per_visit",)


def trust(
    history: Sequence[PastStatement],
    flags: Sequence[Flag],
    policy: ReviewPolicy,
    pending: int = 0,
    stock: Sequence[str] = (),
) -> TrustDecision:
    """Credit-first: K clean statements in a row, just before this one, no flag now, and
    no visit already put on its worklist waiting for a finding (``pending``: a visit after
    the patient's death, say), nor a drug-stock flag (``stock``: their kinds)."""
    k = policy.trusted_after_months
    recent = sorted(history, key=lambda s: s.month)[-k:] if k else []
    reasons: list[str] = []
    if len(recent) < k:
        reasons.append(f"history_short:{len(recent)}")
    dirty = [s.month for s in recent if not s.accepted_clean]
    reasons += [f"corrected:{m}" for m in dirty]
    reasons += [
        f"flagged:{f.figure.value}" + (f":{f.diagnosis}" if f.diagnosis else "") for f in flags
    ]
    if pending:
        reasons.append(f"pending:{pending}")
    reasons += [f"stock:{kind}" for kind in sorted(set(stock))]
    if reasons:
        return TrustDecision(False, tuple(reasons))
    return TrustDecision(True, (f"clean_months:{k}", "no_flags"))


# --- sampled review -------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleCandidate:
    visit_id: int
    total: int  # fen
    pointed: tuple[str, ...] = ()  # the rules or flags pointing at it


@dataclass(frozen=True)
class WorkItem:
    visit_id: int
    why: tuple[str, ...]  # "rule:split_visit", "above:10000", "random"


def sample_seed(district: str, month: str, clinic: str, salt: str) -> int:
    """A seed anyone can recompute from the statement and the policy's salt: reproducible."""
    digest = hashlib.sha256(f"{district}|{month}|{clinic}|{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draw_sample(
    candidates: Sequence[SampleCandidate], policy: ReviewPolicy, seed: int
) -> list[WorkItem]:
    """The review worklist: pointed-at visits, big visits, and a seeded random share."""
    items: dict[int, list[str]] = {}
    for c in candidates:
        why = [f"rule:{p}" for p in c.pointed]
        if c.total > policy.sample_above:
            why.append(f"above:{policy.sample_above}")
        if why:
            items[c.visit_id] = why
    rest = sorted(c.visit_id for c in candidates if c.visit_id not in items)
    count = -(-len(rest) * policy.sample_percent // 100)  # round up: never zero of many
    for visit_id in random.Random(seed).sample(rest, min(count, len(rest))):
        items[visit_id] = ["random"]
    return [WorkItem(v, tuple(why)) for v, why in sorted(items.items())]


def worklist_month_for(month: str, statuses: Mapping[str, str]) -> str:
    """The statement whose worklist a visit of ``month`` found afterwards goes on.

    Its own month's while a reviewer can still look at it (open or submitted; a
    month without a statement is open), else the clinic's next such month: a
    reviewed or paid statement is never reopened, the finding is booked on a
    later one (a disallowed visit's adjustment says the month it belongs to).
    """
    candidate = month
    while statuses.get(candidate, "open") not in ("open", "submitted"):
        start = next_month_start(candidate)
        candidate = f"{start.year:04d}-{start.month:02d}"
    return candidate


# --- a resident's own visits (issue 26 §2) -----------------------------------------------

ID_TAIL = 6  # characters of the ID number asked for, beside a receipt's code


def id_tail_matches(id_number: str, typed: str) -> bool:
    """Whether ``typed`` is the ID number's last six characters (a lowercase x is X).

    Compared in constant time: the answer's timing says nothing of how much matched.
    """
    tail = (typed or "").strip().upper()
    return len(tail) == ID_TAIL and hmac.compare_digest(
        id_number[-ID_TAIL:].encode(), tail.encode()
    )


def own_visits_since(today: dt.date) -> dt.date:
    """The first day of the twelve months a resident sees of his own visits."""
    try:
        return today.replace(year=today.year - 1) + dt.timedelta(days=1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 1, day=28) + dt.timedelta(days=1)


def next_month_start(month: str) -> dt.date:
    """The first day after ``month`` (``YYYY-MM``)."""
    year, mon = int(month[:4]), int(month[5:7])
    return dt.date(year + (mon == 12), mon % 12 + 1, 1)


def auto_submit_due(month: str, today: dt.date, policy: OversightPolicy) -> bool:
    """Whether an unconfirmed statement of ``month`` is submitted by the system today."""
    if policy.auto_submit_day is None:
        return False
    return today >= next_month_start(month).replace(day=policy.auto_submit_day)
