"""The stock flags in words, keyed by their kind (translated by Flask-Babel)."""

from __future__ import annotations

from flask_babel import gettext as _

from app.stock.rules import StockFlag, StockFlagKind


def flag_words(flag: StockFlag) -> str:
    """One flag: the item, what is wrong, and (for a traceability code) which code."""
    match flag.kind:
        case StockFlagKind.OVERDRAWN:
            return _(
                "%(name)s: dispensed more than the clinic had in stock (the book is below zero)",
                name=flag.item_name,
            )
        case StockFlagKind.FAR_ABOVE:
            return _(
                "%(name)s: dispensing this month far above the deliveries of the last three months",
                name=flag.item_name,
            )
        case StockFlagKind.TRACE_TWICE:
            return _(
                "%(name)s: traceability code %(code)s dispensed on more than one visit",
                name=flag.item_name,
                code=flag.detail,
            )
    return flag.kind.value  # pragma: no cover (every kind is said above)
