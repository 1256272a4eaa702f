"""Words for flags and worklist reasons, keyed by their codes (translated by Flask-Babel).

A flag reads "次均费用 60.00 元，全区中位数 20.45 元，偏离 9.8": the figure,
the clinic's value, the district's median, and the modified z-score.
Pages take every word from here, never from the codes' English spelling.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Protocol

from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.money import format_yuan, round_fen
from app.oversight.rules import Figure

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
    Figure.CONSULTATION_SHARE: _l("Consultation fee's share of the fund base"),
}
MONEY = {Figure.COST_PER_VISIT, Figure.FUND_PER_VISIT, Figure.FISCAL_PER_VISIT}
SHARES = {
    Figure.INJECTION_RATE,
    Figure.WARNING_SHARE,
    Figure.LATE_SHARE,
    Figure.VOID_SHARE,
    Figure.COMPLAINT_SHARE,
    Figure.CONSULTATION_SHARE,
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
    return str(decimal_places(value, 2))


def figure_label(figure: Figure | str) -> str:
    return str(FIGURES.get(Figure(figure), figure))


def describe(flag: FlagLike) -> str:
    """One flag in words: which figure, the clinic's value, the median, how far out."""
    return _(
        "%(figure)s %(value)s, district median %(median)s, %(score)s off",
        figure=figure_label(flag.figure),
        value=figure_value(flag.figure, flag.value),
        median=figure_value(flag.figure, flag.median),
        score=str(decimal_places(abs(flag.score), 1)),
    )


def why_label(code: str) -> str:
    """Why a visit is on the worklist, e.g. ``rule:late_entry,above:10000``."""
    words = []
    for part in code.split(","):
        if part.startswith("above:"):
            fen = int(part.split(":", 1)[1])
            words.append(_("above %(yuan)s yuan", yuan=format_yuan(fen)))
        else:
            words.append(str(WHY.get(part, part)))
    return "、".join(words)
