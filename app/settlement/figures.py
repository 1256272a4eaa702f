"""Statement figures, aggregated in SQL from the recorded visits (SPEC §5).

Guarantees:

* every figure is a ``SUM``/``COUNT`` over the non-voided visits selected —
  never a loop over visits in Python — so a statement equals the sum of its
  visits to the fen, however many there are;
* :func:`month_close` gives every clinic's month (totals, per day, per item)
  in three queries whatever the number of clinics, and holds only the grouped
  rows in memory (clinics × days and clinics × items), never a visit; a
  clinic's totals are the sum of its per-day sums, so the days printed always
  add up to the statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Case, ColumnExpressionArgument, case, func, select

from app.extensions import db
from app.localtime import start_of_local_day
from app.settlement.rules import COUNT_FIELDS, FIGURE_FIELDS, MONEY_FIELDS, Figures
from app.visits.models import Visit, VisitLine

# The figures are defined once, in the pure rules; these names stay importable here.
__all__ = [
    "COUNT_FIELDS",
    "FIGURE_FIELDS",
    "MONEY_FIELDS",
    "Figures",
    "ItemFigures",
    "MonthFigures",
    "day_figures",
    "figures_by_clinic",
    "figures_by_day",
    "figures_by_month",
    "item_figures",
    "month_close",
    "month_figures",
    "stored_figures",
]


def _flag(condition: ColumnExpressionArgument[bool]) -> Case[int]:
    return case((condition, 1), else_=0)


def _aggregates() -> list[Any]:
    return [
        func.count(Visit.id).label("visits"),
        func.coalesce(func.sum(_flag(Visit.programme)), 0).label("programme_visits"),
        func.coalesce(func.sum(_flag(Visit.injection)), 0).label("injections"),
        func.coalesce(func.sum(Visit.total), 0).label("total"),
        func.coalesce(func.sum(Visit.in_scope), 0).label("in_scope"),
        func.coalesce(func.sum(Visit.fund), 0).label("fund"),
        func.coalesce(func.sum(Visit.fiscal), 0).label("fiscal"),
        func.coalesce(func.sum(Visit.registration), 0).label("registration"),
        func.coalesce(func.sum(Visit.injection_fee), 0).label("injection"),
        func.coalesce(func.sum(Visit.copay), 0).label("copay"),
        func.coalesce(func.sum(Visit.self_pay), 0).label("self_pay"),
        func.coalesce(func.sum(Visit.patient), 0).label("patient"),
    ]


def _figures(row: Any) -> Figures:
    return Figures(**{name: int(row._mapping[name]) for name in Figures.__dataclass_fields__})


def month_figures(clinic_id: int, month: str) -> Figures:
    row = db.session.execute(
        select(*_aggregates()).where(
            Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None)
        )
    ).one()
    return _figures(row)


def day_figures(clinic_id: int, day: dt.date) -> Figures:
    """One Asia/Shanghai day at a clinic: the doctor's daily close (日结)."""
    # The visited_at range lets the (clinic_id, visited_at) index of the
    # today page serve the close too; visit_date keeps the meaning exact.
    row = db.session.execute(
        select(*_aggregates()).where(
            Visit.clinic_id == clinic_id,
            Visit.visited_at >= start_of_local_day(day),
            Visit.visited_at < start_of_local_day(day + dt.timedelta(days=1)),
            Visit.visit_date == day,
            Visit.voided_at.is_(None),
        )
    ).one()
    return _figures(row)


def figures_by_day(clinic_id: int, month: str) -> list[tuple[dt.date, Figures]]:
    rows = db.session.execute(
        select(Visit.visit_date, *_aggregates())
        .where(Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None))
        .group_by(Visit.visit_date)
        .order_by(Visit.visit_date)
    ).all()
    return [(row.visit_date, _figures(row)) for row in rows]


def figures_by_clinic(clinic_ids: list[int], month: str) -> dict[int, Figures]:
    rows = db.session.execute(
        select(Visit.clinic_id, *_aggregates())
        .where(Visit.clinic_id.in_(clinic_ids), Visit.month == month, Visit.voided_at.is_(None))
        .group_by(Visit.clinic_id)
    ).all()
    return {row.clinic_id: _figures(row) for row in rows}


@dataclass(frozen=True)
class ItemFigures:
    code: str
    name: str
    unit: str
    quantity: int  # thousandths
    amount: int


def item_figures(clinic_id: int, month: str) -> list[ItemFigures]:
    rows = db.session.execute(
        select(
            VisitLine.item_code,
            func.min(VisitLine.item_name).label("name"),
            func.min(VisitLine.unit).label("unit"),
            func.sum(VisitLine.quantity).label("quantity"),
            func.sum(VisitLine.amount).label("amount"),
        )
        .join(Visit, Visit.id == VisitLine.visit_id)
        .where(Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None))
        .group_by(VisitLine.item_code)
        .order_by(VisitLine.item_code)
    ).all()
    return [ItemFigures(r.item_code, r.name, r.unit, int(r.quantity), int(r.amount)) for r in rows]


def figures_by_month(clinic_id: int, months: list[str]) -> dict[str, Figures]:
    """Live figures of several months of one clinic, one grouped query."""
    rows = db.session.execute(
        select(Visit.month, *_aggregates())
        .where(Visit.clinic_id == clinic_id, Visit.month.in_(months), Visit.voided_at.is_(None))
        .group_by(Visit.month)
    ).all()
    return {row.month: _figures(row) for row in rows}


@dataclass
class MonthFigures:
    """One clinic's month as its statement prints it."""

    figures: Figures = field(default_factory=Figures)
    days: list[tuple[dt.date, Figures]] = field(default_factory=list)
    items: list[ItemFigures] = field(default_factory=list)


def _month_id_range(month: str) -> tuple[int, int] | None:
    """The month's first and last visit id (the ``(month, id)`` index answers it).

    Ids grow with time, so a month's lines sit in one id range of visit_line:
    the bound turns "every line ever, joined" into a range of one index, and
    passed as values (not a subquery) it lets the planner size the join.
    """
    low, high = db.session.execute(
        select(func.min(Visit.id), func.max(Visit.id)).where(Visit.month == month)
    ).one()
    return None if low is None else (int(low), int(high))


def month_close(
    clinic_ids: Sequence[int] | None, month: str, items: bool = True
) -> dict[int, MonthFigures]:
    """Every listed clinic's month (``None``: every clinic) in three queries.

    One ``GROUP BY clinic, day`` over the visits gives the days and, summed,
    the totals; one ``GROUP BY clinic, item`` over the lines of the month's
    id range gives the items.  A clinic without a visit in the month is
    absent from the answer.  ``items=False`` leaves the items out (and the
    lines unread): totals and days only.
    """
    where: list[Any] = [Visit.month == month, Visit.voided_at.is_(None)]
    if clinic_ids is not None:
        if not clinic_ids:
            return {}
        where.append(Visit.clinic_id.in_(sorted(set(clinic_ids))))
    out: dict[int, MonthFigures] = {}
    # No ORDER BY: the database would sort every group; dates sort the same in Python.
    days = db.session.execute(
        select(Visit.clinic_id, Visit.visit_date, *_aggregates())
        .where(*where)
        .group_by(Visit.clinic_id, Visit.visit_date)
    )
    # _aggregates() lists the figures in Figures' field order.  Thousands of
    # (clinic, day) rows: the columns are summed by sum() over zip, not in a
    # Python loop per figure.
    values: dict[int, list[list[int]]] = {}
    for clinic_id, day, *figures in days:
        if clinic_id not in out:
            out[clinic_id] = MonthFigures()
            values[clinic_id] = []
        out[clinic_id].days.append((day, Figures(*figures)))
        values[clinic_id].append(figures)
    for clinic_id, day_rows in values.items():
        out[clinic_id].days.sort(key=lambda pair: pair[0])
        out[clinic_id].figures = Figures(*(sum(col) for col in zip(*day_rows, strict=True)))
    id_range = _month_id_range(month) if items else None
    if id_range is None:
        return out
    rows = db.session.execute(
        select(
            Visit.clinic_id,
            VisitLine.item_code,
            func.min(VisitLine.item_name).label("name"),
            func.min(VisitLine.unit).label("unit"),
            func.sum(VisitLine.quantity).label("quantity"),
            func.sum(VisitLine.amount).label("amount"),
        )
        .join(Visit, Visit.id == VisitLine.visit_id)
        .where(*where, VisitLine.visit_id.between(*id_range))
        .group_by(Visit.clinic_id, VisitLine.item_code)
        .order_by(Visit.clinic_id, VisitLine.item_code)
    )
    for r in rows:
        if r.clinic_id not in out:
            out[r.clinic_id] = MonthFigures()
        out[r.clinic_id].items.append(
            ItemFigures(r.item_code, r.name, r.unit, int(r.quantity), int(r.amount))
        )
    return out


def stored_figures(row: Any) -> Figures | None:
    """The figures frozen on a statement row, or None while it is open."""
    if getattr(row, "visits", None) is None:
        return None
    return Figures(**{name: int(getattr(row, name)) for name in FIGURE_FIELDS})
