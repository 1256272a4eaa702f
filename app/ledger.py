"""The statement figures, each declared once (SPEC §5).

Guarantees:

* :data:`FIGURES` is the one declaration of every figure a statement, a day,
  a summary or an export carries: its name, the visit column it sums (or the
  flag it counts), its kind (a count of visits, a count of flagged visits, or
  money in fen) and its term in the glossary (:mod:`app.glossary`), whose
  Chinese and English names label it on pages, PDFs, CSV and XLSX;
* everything else is derived from it: the :class:`Figures` type below, the
  live SQL aggregate and the day rollup's upserts, take-off and rebuild
  (:mod:`app.visits.figures`), the audit's statement state
  (:mod:`app.audit.rules`), the API schema and the labels and columns of the
  documents and exports.  Adding a figure is one line here plus a migration
  adding its column to ``clinic_day`` and ``statement``
  (``tests/unit/test_ledger.py`` adds one and follows it everywhere);
* :func:`declare` builds the derived type from any declaration, so a test can
  prove the derivation on a longer list without touching the app's.

Nothing here imports Flask or SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, make_dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any


class FigureKind(StrEnum):
    COUNT = "count"  # one per visit
    FLAG = "flag"  # one per visit whose ``source`` flag is set
    MONEY = "money"  # the sum of ``source``, in fen


@dataclass(frozen=True)
class Figure:
    name: str  # the column of clinic_day and statement, the attribute of Figures
    source: str | None  # the visit column summed or counted (None: every visit)
    kind: FigureKind
    term: str  # the glossary term naming it (app.glossary.TERMS)

    @property
    def is_count(self) -> bool:
        return self.kind is not FigureKind.MONEY


COUNT, FLAG, MONEY = FigureKind.COUNT, FigureKind.FLAG, FigureKind.MONEY

# Counts first, then money, in the order statements print them.
FIGURES: tuple[Figure, ...] = (
    Figure("visits", None, COUNT, "visits"),
    Figure("programme_visits", "programme", FLAG, "programme_visits"),
    Figure("injections", "injection", FLAG, "injections"),
    Figure("total", "total", MONEY, "total"),
    Figure("in_scope", "in_scope", MONEY, "in_scope"),
    Figure("fund", "fund", MONEY, "fund"),
    Figure("fiscal", "fiscal", MONEY, "fiscal"),
    Figure("registration", "registration", MONEY, "registration"),
    Figure("injection", "injection_fee", MONEY, "injection"),
    Figure("copay", "copay", MONEY, "copay"),
    Figure("self_pay", "self_pay", MONEY, "self_pay"),
    Figure("patient", "patient", MONEY, "patient"),
)


def _add(self: Any, other: Any) -> Any:
    return type(self)(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))


def _values(self: Any) -> tuple[int, ...]:
    return tuple(getattr(self, f.name) for f in fields(self))


def _as_dict(self: Any) -> dict[str, int]:
    return {f.name: getattr(self, f.name) for f in fields(self)}


def declare(figures: Iterable[Figure]) -> type:
    """The frozen dataclass of ``figures``: one int field each (default 0), in order.

    Counts are ints, money is int fen; ``a + b`` adds figure by figure,
    ``values()`` gives them in declaration order, ``as_dict()`` by name.
    """
    figures = tuple(figures)
    names = [f.name for f in figures]
    if len(set(names)) != len(names):
        raise ValueError(f"a figure is declared twice: {names}")
    cls = make_dataclass(
        "Figures",
        [(f.name, int, field(default=0)) for f in figures],
        frozen=True,
        namespace={
            "__doc__": "The figures of a statement, of one of its days or of a summary "
            "(SPEC §5), as app.ledger.FIGURES declares them.",
            "__add__": _add,
            "values": _values,
            "as_dict": _as_dict,
            "declared": figures,
        },
    )
    cls.__module__ = __name__
    return cls


if TYPE_CHECKING:

    class Figures:
        """Static view of the derived dataclass: every declared figure is an int."""

        declared: tuple[Figure, ...]

        def __init__(self, *values: int, **named: int) -> None: ...
        def __getattr__(self, name: str) -> int: ...
        def __add__(self, other: Figures) -> Figures: ...
        def values(self) -> tuple[int, ...]: ...
        def as_dict(self) -> dict[str, int]: ...

else:
    Figures = declare(FIGURES)

FIGURE_FIELDS: tuple[str, ...] = tuple(f.name for f in FIGURES)
COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIGURES if f.is_count)
MONEY_FIELDS: tuple[str, ...] = tuple(f.name for f in FIGURES if not f.is_count)
FIGURE_TERMS: dict[str, str] = {f.name: f.term for f in FIGURES}
