"""Statement figures, aggregated in SQL from the recorded visits (SPEC §5).

Guarantees:

* every figure is a ``SUM``/``COUNT`` over the non-voided visits selected —
  never a loop over visits in Python — so a statement equals the sum of its
  visits to the fen, however many there are;
* :func:`month_close` gives every clinic's month (totals, per day, per item)
  in two queries whatever the number of clinics, and holds only the rolled-up
  rows in memory (clinics × days and clinics × items), never a visit; a
  clinic's totals are the sum of its days, so the days printed always add up
  to the statement;
* the days come from :class:`~app.visits.models.ClinicDay` and the items from
  :class:`~app.visits.models.ClinicMonthItem`, which the recording path keeps
  equal to the ``GROUP BY`` over the month's non-voided visits and lines
  (:func:`day_rollup_differences` and :func:`item_rollup_differences` prove
  it, ``flask statements check-rollup`` runs both; on PostgreSQL a deferred
  constraint trigger refuses any commit that would make a day differ from its
  visits): the month close, a clinic's statement, the district summary
  (:func:`rollup_figures`) and submit's frozen figures read neither a visit
  nor a line, so their cost grows with clinics × days, not with visits;
* :func:`month_figures`, :func:`figures_by_day` and :func:`figures_by_clinic`
  still sum the visits themselves: what :func:`~app.settlement.queries.verify_statement`
  proves a frozen statement against, independently of the rollup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.ledger import COUNT_FIELDS, FIGURE_FIELDS, MONEY_FIELDS, Figures
from app.visits.figures import day_figures, ledger_sql
from app.visits.models import ClinicDay, ClinicMonthItem, Visit, VisitLine

# The figures are declared once (app.ledger) and summed by app.visits.figures;
# these names stay importable here.
__all__ = [
    "COUNT_FIELDS",
    "FIGURE_FIELDS",
    "MONEY_FIELDS",
    "Figures",
    "ItemFigures",
    "MonthFigures",
    "day_figures",
    "day_rollup_differences",
    "figures_by_clinic",
    "figures_by_day",
    "figures_by_month",
    "item_figures",
    "item_rollup_differences",
    "month_close",
    "month_figures",
    "month_items",
    "rollup_figures",
    "stored_figures",
]


def _aggregates() -> list[Any]:
    return ledger_sql().aggregates()


def _figures(row: Any) -> Figures:
    return ledger_sql().read(row)


def month_figures(clinic_id: int, month: str) -> Figures:
    row = db.session.execute(
        select(*_aggregates()).where(
            Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None)
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


def rollup_figures(
    clinic_ids: Sequence[int] | Select[tuple[int]], month: str
) -> dict[int, Figures]:
    """Each listed clinic's month totals from the day rollup, one ``GROUP BY`` clinic.

    Reads the month's ``clinic_day`` rows of these clinics (clinics × days, never
    a visit); equal to :func:`figures_by_clinic` because the rollup equals its
    visits.  A clinic without a row is absent; one whose visits were all voided
    sums to zeros.  ``clinic_ids`` may be a ``SELECT`` of ids (a scope).
    """
    if isinstance(clinic_ids, Select):
        ids: Any = clinic_ids
    elif not clinic_ids:
        return {}
    else:
        ids = sorted(set(clinic_ids))
    day = ClinicDay.__table__.c
    sql = ledger_sql()
    rows = db.session.execute(
        select(day.clinic_id, *(func.sum(day[name]).label(name) for name in sql.names))
        .where(day.month == month, day.clinic_id.in_(ids))
        .group_by(day.clinic_id)
    )
    return {row.clinic_id: sql.read(row) for row in rows}


@dataclass(frozen=True)
class ItemFigures:
    code: str
    name: str
    unit: str
    quantity: int  # thousandths
    amount: int


def month_items(clinic_ids: Sequence[int] | None, month: str) -> dict[int, list[ItemFigures]]:
    """Every listed clinic's item table for the month (``None``: every clinic), by code.

    The rollup's rows are read in the order of its primary key (an index scan:
    no aggregate, no sort, plain integers) and an item's rows are added up
    here.  An item has several rows only when the catalogue renamed it during
    the month; it prints once, with the least name and unit as ``min()`` over
    the lines gave, asked of the database (its collation) in a second query
    only when the month has such an item.
    """
    item = ClinicMonthItem
    where: list[Any] = [item.month == month, item.lines > 0]
    if clinic_ids is not None:
        where.append(item.clinic_id.in_(sorted(set(clinic_ids))))
    rows = db.session.execute(
        select(
            item.clinic_id, item.item_code, item.item_name, item.unit, item.quantity, item.amount
        )
        .where(*where)
        .order_by(item.month, item.clinic_id, item.item_code, item.item_name, item.unit)
    )
    out: dict[int, list[ItemFigures]] = {}
    renamed: set[tuple[int, str]] = set()
    previous: tuple[int, str] | None = None
    for clinic_id, code, name, unit, quantity, amount in rows:
        if (clinic_id, code) == previous:
            last = out[clinic_id][-1]
            out[clinic_id][-1] = replace(
                last, quantity=last.quantity + quantity, amount=last.amount + amount
            )
            renamed.add(previous)
            continue
        previous = (clinic_id, code)
        out.setdefault(clinic_id, []).append(
            ItemFigures(code, name, unit, int(quantity), int(amount))
        )
    if renamed:
        least = {
            (r.clinic_id, r.item_code): (r.name, r.unit)
            for r in db.session.execute(
                select(
                    item.clinic_id,
                    item.item_code,
                    func.min(item.item_name).label("name"),
                    func.min(item.unit).label("unit"),
                )
                .where(*where, item.item_code.in_(sorted({code for _, code in renamed})))
                .group_by(item.clinic_id, item.item_code)
            )
        }
        for clinic_id, clinic_items in out.items():
            for index, figures in enumerate(clinic_items):
                if (clinic_id, figures.code) in renamed:
                    name, unit = least[(clinic_id, figures.code)]
                    clinic_items[index] = replace(figures, name=name, unit=unit)
    return out


def item_figures(clinic_id: int, month: str) -> list[ItemFigures]:
    return month_items([clinic_id], month).get(clinic_id, [])


def item_rollup_differences(month: str | None = None) -> list[tuple[Any, ...]]:
    """Where the rollup and the lines disagree (``None``: every month); empty when they agree.

    Each difference is ``(month, clinic_id, code, name, unit, rollup, lines)``
    with ``(quantity, amount, lines)`` on each side (zeros for a missing row).
    Reads the month's lines once: an operator's check, not a page.
    """
    line_where: list[Any] = [Visit.voided_at.is_(None)]
    item_where: list[Any] = []
    if month is not None:
        line_where.append(Visit.month == month)
        item_where.append(ClinicMonthItem.month == month)
    keys = (VisitLine.item_code, VisitLine.item_name, VisitLine.unit)
    from_lines = {
        (r.month, r.clinic_id, r.item_code, r.item_name, r.unit): (
            int(r.quantity),
            int(r.amount),
            int(r.lines),
        )
        for r in db.session.execute(
            select(
                Visit.month,
                Visit.clinic_id,
                *keys,
                func.sum(VisitLine.quantity).label("quantity"),
                func.sum(VisitLine.amount).label("amount"),
                func.count().label("lines"),
            )
            .join(Visit, Visit.id == VisitLine.visit_id)
            .where(*line_where)
            .group_by(Visit.month, Visit.clinic_id, *keys)
        )
    }
    rollup = {
        (r.month, r.clinic_id, r.item_code, r.item_name, r.unit): (r.quantity, r.amount, r.lines)
        for r in db.session.scalars(select(ClinicMonthItem).where(*item_where))
    }
    zero = (0, 0, 0)
    return [
        (*key, rollup.get(key, zero), from_lines.get(key, zero))
        for key in sorted(from_lines.keys() | rollup.keys())
        if rollup.get(key, zero) != from_lines.get(key, zero)
    ]


def day_rollup_differences(month: str | None = None) -> list[tuple[Any, ...]]:
    """Where the day rollup and the visits disagree (``None``: every month); empty if never.

    Each difference is ``(month, clinic_id, day, rollup, visits)`` with the
    :class:`Figures` of each side (zeros for a missing row; a day emptied by
    voids is all zeros).  Reads the month's visits once: an operator's check.
    """
    visit_where: list[Any] = [Visit.voided_at.is_(None)]
    day_where: list[Any] = []
    columns = ledger_sql().day_columns()
    if month is not None:
        visit_where.append(Visit.month == month)
        day_where.append(ClinicDay.month == month)
    from_visits = {
        (r.month, r.clinic_id, r.visit_date): _figures(r)
        for r in db.session.execute(
            select(Visit.month, Visit.clinic_id, Visit.visit_date, *_aggregates())
            .where(*visit_where)
            .group_by(Visit.month, Visit.clinic_id, Visit.visit_date)
        )
    }
    rollup = {
        (r.month, r.clinic_id, r.visit_date): _figures(r)
        for r in db.session.execute(
            select(ClinicDay.month, ClinicDay.clinic_id, ClinicDay.visit_date, *columns).where(
                *day_where
            )
        )
    }
    zero = Figures()
    return [
        (*key, rollup.get(key, zero), from_visits.get(key, zero))
        for key in sorted(from_visits.keys() | rollup.keys())
        if rollup.get(key, zero) != from_visits.get(key, zero)
    ]


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


def month_close(
    clinic_ids: Sequence[int] | None, month: str, items: bool = True
) -> dict[int, MonthFigures]:
    """Every listed clinic's month (``None``: every clinic) in two queries.

    One read of the month's rows of the day rollup, in key order (clinic, day:
    an index scan, no aggregate, no sort), gives the days and, summed, the
    totals; one read of the item rollup gives the items.  A clinic without a
    visit in the month is absent from the answer.  ``items=False`` leaves the
    items out: totals and days only.
    """
    # A day whose visits were all voided stays in the rollup, at zero.
    where: list[Any] = [ClinicDay.month == month, ClinicDay.__table__.c.visits > 0]
    if clinic_ids is not None:
        if not clinic_ids:
            return {}
        where.append(ClinicDay.clinic_id.in_(sorted(set(clinic_ids))))
    out: dict[int, MonthFigures] = {}
    columns = ledger_sql().day_columns()
    days = db.session.execute(
        select(ClinicDay.clinic_id, ClinicDay.visit_date, *columns)
        .where(*where)
        .order_by(ClinicDay.month, ClinicDay.clinic_id, ClinicDay.visit_date)
    )
    # Thousands of (clinic, day) rows: a clinic's columns are summed by sum()
    # over zip, not in a Python loop per figure.
    values: dict[int, list[list[int]]] = {}
    for clinic_id, day, *figures in days:
        if clinic_id not in out:
            out[clinic_id] = MonthFigures()
            values[clinic_id] = []
        out[clinic_id].days.append((day, Figures(*figures)))
        values[clinic_id].append(figures)
    for clinic_id, day_rows in values.items():
        out[clinic_id].figures = Figures(*(sum(col) for col in zip(*day_rows, strict=True)))
    if not items:
        return out
    for clinic_id, clinic_items in month_items(clinic_ids, month).items():
        out.setdefault(clinic_id, MonthFigures()).items = clinic_items
    return out


def stored_figures(row: Any) -> Figures | None:
    """The figures frozen on a statement row, or None while it is open."""
    if getattr(row, "visits", None) is None:
        return None
    return _figures(row)
