"""Words for flags and worklist reasons, keyed by their codes (translated by Flask-Babel).

A flag reads "次均费用 70.40 元，全区中位数 30.20 元，高出 133%": the figure,
the clinic's value, the district's median, and how far above (or below) the
median the value is — in per cent of the median for money and counts, in
percentage points for shares.  (Whether a figure is flagged is decided by its
modified z-score; the words say the distance a reviewer can check by hand.)
Pages take every word from here, never from the codes' English spelling.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Protocol

from flask import url_for
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.checks.rules import STOCK_FIGURES, Figure
from app.money import format_yuan, round_fen

FIGURES: dict[Figure, LazyString] = {
    Figure.COST_PER_VISIT: _l("Cost per visit"),
    Figure.FUND_PER_VISIT: _l("Fund per visit"),
    Figure.FISCAL_PER_VISIT: _l("Backstop per programme visit"),
    Figure.INJECTION_RATE: _l("Injection rate"),
    Figure.VISITS_PER_RESIDENT: _l("Visits per registered resident"),
    Figure.WARNING_SHARE: _l("Share of visits with warnings"),
    Figure.LATE_SHARE: _l("Share of late entries"),
    Figure.VOID_SHARE: _l("Share of voided receipts"),
    Figure.COMPLAINT_SHARE: _l("Share of patients who say they paid more"),
    Figure.DISOWNED_SHARE: _l("Share of visits the patient says never happened"),
    Figure.VISITS_PER_PATIENT: _l("Visits per patient seen (repeat visits)"),
    Figure.RESIDENTS_SEEN_SHARE: _l("Share of the village's registered residents seen"),
    Figure.CONSULTATION_SHARE: _l("Consultation fee's share of the fund base"),
    Figure.DIAGNOSIS_SHARE: _l("share of visits"),
    Figure.DIAGNOSIS_PREVALENCE: _l("prevalence"),
    Figure.STOCK_OVERDRAWN: _l("dispensed more than the clinic had in stock"),
    Figure.STOCK_FAR_ABOVE: _l("dispensing far above the deliveries"),
    Figure.STOCK_TRACE_TWICE: _l("a drug traceability code dispensed twice"),
}
MONEY = {Figure.COST_PER_VISIT, Figure.FUND_PER_VISIT, Figure.FISCAL_PER_VISIT}
SHARES = {
    Figure.INJECTION_RATE,
    Figure.WARNING_SHARE,
    Figure.LATE_SHARE,
    Figure.VOID_SHARE,
    Figure.COMPLAINT_SHARE,
    Figure.DISOWNED_SHARE,
    Figure.RESIDENTS_SEEN_SHARE,
    Figure.CONSULTATION_SHARE,
    Figure.DIAGNOSIS_SHARE,
}

WHY: dict[str, LazyString] = {
    "rule:quantity_over_max": _l("quantity over the maximum"),
    "rule:frequent_visits": _l("frequent visits"),
    "rule:split_visit": _l("split visit"),
    "rule:early_refill": _l("refill before the last supply ran out"),
    "rule:injection_without_injectable": _l("injection fee without an injectable"),
    "rule:injectable_without_injection": _l("injectable without an injection fee"),
    "rule:unsuited_item": _l("item not suited to the patient"),
    "rule:late_entry": _l("entered late"),
    "rule:no_diagnosis": _l("no diagnosis"),
    "rule:off_indication": _l("drug outside its indications"),
    "rule:unsuited_diagnosis": _l("diagnosis not suited to the patient"),
    "rule:complaint": _l("patient says he paid more"),
    "disowned": _l("patient says he was not seen that day"),
    "rule:dispensed_over_delivered": _l("dispensed more than the clinic had in stock"),
    "rule:dispensed_far_above": _l("dispensing far above the deliveries"),
    "rule:trace_code_twice": _l("a drug traceability code dispensed twice"),
    "random": _l("random sample"),
}


class FlagLike(Protocol):
    @property
    def figure(self) -> Figure: ...
    @property
    def value(self) -> Fraction: ...
    @property
    def median(self) -> Fraction: ...
    @property
    def score(self) -> Fraction: ...
    @property
    def diagnosis(self) -> str | None: ...


def decimal_places(value: Fraction, places: int) -> Decimal:
    """An exact fraction as a decimal rounded half up (never through float)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def figure_value(figure: Figure, value: Fraction) -> str:
    """A figure's value in its unit: yuan for money, per cent for shares."""
    if figure in MONEY:
        fen = round_fen(Decimal(value.numerator) / Decimal(value.denominator))
        return _("%(yuan)s yuan", yuan=format_yuan(fen))
    if figure in SHARES:
        return f"{decimal_places(value * 100, 1)}%"
    if figure is Figure.DIAGNOSIS_PREVALENCE:
        return _("%(value)s per 1,000", value=str(decimal_places(value, 1)))
    return str(decimal_places(value, 2))


def figure_label(figure: Figure | str) -> str:
    return str(FIGURES.get(Figure(figure), figure))


def distance(figure: Figure, value: Fraction, median: Fraction) -> str:
    """How far ``value`` is from the median, in words a reviewer can check by hand."""
    if figure in SHARES:
        points = decimal_places(abs(value - median) * 100, 1)
        if value >= median:
            return _("%(points)s percentage points above it", points=str(points))
        return _("%(points)s percentage points below it", points=str(points))
    if median == 0:
        return _("above it") if value > 0 else _("equal to it")
    percent = decimal_places(abs(value - median) / median * 100, 0)
    if value >= median:
        return _("%(percent)s%% above it", percent=str(percent))
    return _("%(percent)s%% below it", percent=str(percent))


def flag_label(flag: FlagLike) -> str:
    """What a flag is about: its figure, and for the diagnosis mix the diagnosis first
    (``脑卒中 I64.x00 患病率``; the code alone when the list does not name it)."""
    if not flag.diagnosis:
        return figure_label(flag.figure)
    name = getattr(flag, "diagnosis_name", "")
    return " ".join(p for p in (name, flag.diagnosis, figure_label(flag.figure)) if p)


def describe(flag: FlagLike) -> str:
    """One flag in words: which figure, the clinic's value, the median, how far out
    (a drug-stock flag: what, and how many visits are behind it)."""
    if flag.figure in STOCK_FIGURES:
        return _(
            "%(figure)s: %(n)s visits behind it",
            figure=figure_label(flag.figure),
            n=str(decimal_places(flag.value, 0)),
        )
    if flag.diagnosis:
        median = (
            str(decimal_places(flag.median, 1))
            if flag.figure is Figure.DIAGNOSIS_PREVALENCE
            else figure_value(flag.figure, flag.median)
        )
        return _(
            "%(figure)s %(value)s, district median %(median)s, %(distance)s",
            figure=flag_label(flag),
            value=figure_value(flag.figure, flag.value),
            median=median,
            distance=distance(Figure(flag.figure), flag.value, flag.median),
        )
    return _(
        "%(figure)s %(value)s, district median %(median)s, %(distance)s",
        figure=figure_label(flag.figure),
        value=figure_value(flag.figure, flag.value),
        median=figure_value(flag.figure, flag.median),
        distance=distance(Figure(flag.figure), flag.value, flag.median),
    )


# What the visits listed under a flag are (the visits behind it).
BEHIND: dict[Figure, LazyString] = {
    Figure.COST_PER_VISIT: _l("Visits costing more than the district median, largest first"),
    Figure.FUND_PER_VISIT: _l("Visits with a fund payment above the district median"),
    Figure.FISCAL_PER_VISIT: _l("One-yuan visits with a backstop above the district median"),
    Figure.INJECTION_RATE: _l("Visits with an injection"),
    Figure.VISITS_PER_RESIDENT: _l("Every visit of the month"),
    Figure.WARNING_SHARE: _l("Visits on which a check at recording warned"),
    Figure.LATE_SHARE: _l("Visits entered late, latest first"),
    Figure.VOID_SHARE: _l("Voided visits"),
    Figure.COMPLAINT_SHARE: _l("Visits whose patient says he was asked to pay more"),
    Figure.DISOWNED_SHARE: _l("Visits the patient says never happened"),
    Figure.VISITS_PER_PATIENT: _l("Every visit of the month, by patient"),
    Figure.RESIDENTS_SEEN_SHARE: _l("Every visit of the month, by patient"),
    Figure.CONSULTATION_SHARE: _l("Every visit of the month"),
    Figure.DIAGNOSIS_SHARE: _l("Visits with this diagnosis, by patient"),
    Figure.DIAGNOSIS_PREVALENCE: _l("Visits with this diagnosis, by patient"),
}


def behind_label(figure: Figure) -> str:
    return str(BEHIND.get(figure, BEHIND[Figure.VISITS_PER_RESIDENT]))


def why_label(code: str) -> str:
    """Why a visit is on the worklist, e.g. ``rule:late_entry,above:10000``."""
    words = []
    for part in code.split(","):
        if part.startswith("above:"):
            fen = int(part.split(":", 1)[1])
            words.append(_("above %(yuan)s yuan", yuan=format_yuan(fen)))
        elif part.startswith("died:"):
            words.append(_("after the patient's death on %(day)s", day=part.split(":", 1)[1]))
        else:
            words.append(str(WHY.get(part, part)))
    return "、".join(words)


def flag_url(clinic: str, month: str, figure: Figure, diagnosis: str | None) -> str:
    """Where a flag opens: the visits behind it, or the stock statement for a stock flag."""
    if Figure(figure) in STOCK_FIGURES:
        return url_for("stock.statement", clinic=clinic, month=month)
    return url_for(
        "oversight.flagged_visits", clinic=clinic, month=month, figure=figure, diagnosis=diagnosis
    )
