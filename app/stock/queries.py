"""Read-only views of a clinic's drug stock: the month per item, the flags and their visits.

Dispensed quantities are read, not kept twice: per month from the clinic's
month-per-item rollup (``clinic_month_item``, which recording and voiding keep
equal to the non-voided lines under the clinic-month lock), within a month
from the visit lines.  A month's statement is a handful of grouped queries
whatever the number of visits: deliveries, dispensing and stock-takes each
grouped by item, then the lines of only the items that went below zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, case, func, select

from app.auth.access import require_clinic_visible
from app.auth.models import User
from app.catalog.models import CatalogItem
from app.errors import NotFound
from app.extensions import db
from app.places.models import Clinic
from app.places.queries import clinic_by_code
from app.policy.queries import policy_for
from app.stock.models import StockDelivery, StockTake
from app.stock.rules import (
    STOCKED_KINDS,
    WINDOW_MONTHS,
    ItemMonth,
    Move,
    StockFlag,
    StockFlagKind,
    month_bounds,
    month_flags,
    months_before,
    visits_beyond_stock,
)
from app.visits.models import ClinicMonthItem, DispensedPack, Visit, VisitLine


@dataclass(frozen=True)
class StockStatement:
    """A clinic's monthly stock statement (月度进销存报表) and its flags."""

    clinic: Clinic
    month: str
    rows: list[ItemMonth]
    flags: list[StockFlag] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(row, name) for row in self.rows)


def _sum(cond: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((cond, value), else_=0)), 0)


def stock_since(clinic_id: int) -> str | None:
    """The month the clinic's book starts: that of its first delivery or stock-take.

    Dispensing before it is not on the book (the clinic kept no stock here then);
    None: the clinic keeps no stock in the system, and nothing is flagged.
    """
    first = [
        db.session.scalar(
            select(func.min(StockDelivery.delivered_on)).where(StockDelivery.clinic_id == clinic_id)
        ),
        db.session.scalar(
            select(func.min(StockTake.taken_on)).where(StockTake.clinic_id == clinic_id)
        ),
    ]
    days = [d for d in first if d is not None]
    return f"{min(days):%Y-%m}" if days else None


def book_on(clinic_id: int, item_code: str, day: dt.date) -> int:
    """The item's book at the end of ``day``: delivered − dispensed + adjusted, up to it."""
    since = stock_since(clinic_id) or f"{day:%Y-%m}"
    delivered = db.session.scalar(
        select(func.coalesce(func.sum(StockDelivery.quantity), 0)).where(
            StockDelivery.clinic_id == clinic_id,
            StockDelivery.item_code == item_code,
            StockDelivery.delivered_on <= day,
        )
    )
    month = f"{day.year:04d}-{day.month:02d}"
    before = db.session.scalar(
        select(func.coalesce(func.sum(ClinicMonthItem.quantity), 0)).where(
            ClinicMonthItem.clinic_id == clinic_id,
            ClinicMonthItem.item_code == item_code,
            ClinicMonthItem.month < month,
            ClinicMonthItem.month >= since,
        )
    )
    within = db.session.scalar(
        select(func.coalesce(func.sum(VisitLine.quantity), 0))
        .join(Visit, and_(Visit.id == VisitLine.visit_id, Visit.month == VisitLine.month))
        .where(
            Visit.clinic_id == clinic_id,
            Visit.month == month,
            Visit.visit_date <= day,
            Visit.voided_at.is_(None),
            VisitLine.item_code == item_code,
        )
    )
    adjusted = db.session.scalar(
        select(func.coalesce(func.sum(StockTake.adjustment), 0)).where(
            StockTake.clinic_id == clinic_id,
            StockTake.item_code == item_code,
            StockTake.taken_on <= day,
        )
    )
    return int(delivered or 0) - int(before or 0) - int(within or 0) + int(adjusted or 0)


def item_months(clinic_id: int, month: str) -> list[ItemMonth]:
    """Every stocked item the clinic received, dispensed or counted up to ``month``
    (nothing before the month its book starts, :func:`stock_since`)."""
    since = stock_since(clinic_id)
    if since is None or since > month:
        return []
    first, after = month_bounds(month)
    window_first = month_bounds(months_before(month, WINDOW_MONTHS - 1))[0]
    day = StockDelivery.delivered_on
    delivered = {
        r.item_code: r
        for r in db.session.execute(
            select(
                StockDelivery.item_code,
                _sum(day < first, StockDelivery.quantity).label("before"),
                _sum((day >= first) & (day < after), StockDelivery.quantity).label("within"),
                _sum((day >= first) & (day < after), StockDelivery.amount).label("amount"),
                _sum((day >= window_first) & (day < after), StockDelivery.quantity).label("window"),
                func.max(StockDelivery.national_code).label("national_code"),
            )
            .where(StockDelivery.clinic_id == clinic_id, day < after)
            .group_by(StockDelivery.item_code)
        )
    }
    dispensed = {
        r.item_code: r
        for r in db.session.execute(
            select(
                ClinicMonthItem.item_code,
                _sum(ClinicMonthItem.month < month, ClinicMonthItem.quantity).label("before"),
                _sum(ClinicMonthItem.month == month, ClinicMonthItem.quantity).label("within"),
            )
            .where(
                ClinicMonthItem.clinic_id == clinic_id,
                ClinicMonthItem.month <= month,
                ClinicMonthItem.month >= since,
            )
            .group_by(ClinicMonthItem.item_code)
        )
    }
    taken = {
        r.item_code: r
        for r in db.session.execute(
            select(
                StockTake.item_code,
                _sum(StockTake.taken_on < first, StockTake.adjustment).label("before"),
                _sum(StockTake.taken_on >= first, StockTake.adjustment).label("within"),
            )
            .where(StockTake.clinic_id == clinic_id, StockTake.taken_on < after)
            .group_by(StockTake.item_code)
        )
    }
    codes = set(delivered) | set(dispensed) | set(taken)
    if not codes:
        return []
    items = db.session.execute(
        select(CatalogItem.code, CatalogItem.name, CatalogItem.unit)
        .where(CatalogItem.code.in_(codes), CatalogItem.kind.in_(STOCKED_KINDS))
        .order_by(CatalogItem.code)
    ).all()
    rows: list[ItemMonth] = []
    for code, name, unit in items:
        d, s, t = delivered.get(code), dispensed.get(code), taken.get(code)
        row = ItemMonth(
            item_code=code,
            name=name,
            unit=unit,
            national_code=d.national_code if d else None,
            opening=(int(d.before) if d else 0)
            - (int(s.before) if s else 0)
            + (int(t.before) if t else 0),
            delivered=int(d.within) if d else 0,
            delivered_amount=int(d.amount) if d else 0,
            dispensed=int(s.within) if s else 0,
            adjusted=int(t.within) if t else 0,
            window_delivered=int(d.window) if d else 0,
        )
        if row.opening or row.delivered or row.dispensed or row.adjusted:
            rows.append(row)
    return rows


def _moves(clinic_id: int, month: str, item_code: str) -> list[Move]:
    first, after = month_bounds(month)
    moves = [
        Move(day, 0, quantity=int(qty))
        for day, qty in db.session.execute(
            select(StockDelivery.delivered_on, StockDelivery.quantity).where(
                StockDelivery.clinic_id == clinic_id,
                StockDelivery.item_code == item_code,
                StockDelivery.delivered_on >= first,
                StockDelivery.delivered_on < after,
            )
        )
    ]
    moves += [
        Move(r.visit_date, 1, r.visited_at, r.id, -int(r.quantity))
        for r in db.session.execute(
            select(Visit.id, Visit.visit_date, Visit.visited_at, VisitLine.quantity)
            .join(VisitLine, and_(VisitLine.visit_id == Visit.id, VisitLine.month == Visit.month))
            .where(
                Visit.clinic_id == clinic_id,
                Visit.month == month,
                Visit.voided_at.is_(None),
                VisitLine.item_code == item_code,
            )
        )
    ]
    moves += [
        Move(day, 2, quantity=int(adj))
        for day, adj in db.session.execute(
            select(StockTake.taken_on, StockTake.adjustment).where(
                StockTake.clinic_id == clinic_id,
                StockTake.item_code == item_code,
                StockTake.taken_on >= first,
                StockTake.taken_on < after,
            )
        )
    ]
    return moves


def _dispensing_visits(clinic_id: int, month: str, item_code: str) -> tuple[int, ...]:
    """The month's visits dispensing the item, the largest quantity first."""
    return tuple(
        db.session.scalars(
            select(Visit.id)
            .join(VisitLine, and_(VisitLine.visit_id == Visit.id, VisitLine.month == Visit.month))
            .where(
                Visit.clinic_id == clinic_id,
                Visit.month == month,
                Visit.voided_at.is_(None),
                VisitLine.item_code == item_code,
            )
            .order_by(VisitLine.quantity.desc(), Visit.id)
        )
    )


def trace_codes_twice(clinic_id: int, month: str) -> list[StockFlag]:
    """Codes on the clinic's month dispensed on more than one (unvoided) visit, anywhere."""
    live = and_(
        Visit.id == DispensedPack.visit_id,
        Visit.month == DispensedPack.visit_month,
        Visit.voided_at.is_(None),
    )
    mine = (
        select(DispensedPack.trace_code)
        .join(Visit, live)
        .where(Visit.clinic_id == clinic_id, Visit.month == month)
    )
    rows = db.session.execute(
        select(DispensedPack.trace_code, DispensedPack.visit_id, DispensedPack.item_code)
        .join(Visit, live)
        .where(DispensedPack.trace_code.in_(mine))
        .order_by(DispensedPack.trace_code, DispensedPack.visit_id)
    ).all()
    by_code: dict[str, tuple[str, list[int]]] = {}
    for code, visit_id, item in rows:
        entry = by_code.setdefault(code, (item, []))
        if visit_id not in entry[1]:
            entry[1].append(visit_id)
    names = dict(
        db.session.execute(
            select(CatalogItem.code, CatalogItem.name).where(
                CatalogItem.code.in_({item for item, _ in by_code.values()})
            )
        ).all()
    )
    return [
        StockFlag(StockFlagKind.TRACE_TWICE, item, names.get(item, item), tuple(visits), code)
        for code, (item, visits) in by_code.items()
        if len(visits) > 1
    ]


def stock_statement(clinic: Clinic, month: str, far_above: Fraction | None) -> StockStatement:
    """The month's rows and every flag, each with the visits behind it."""
    rows = item_months(clinic.id, month)
    opening = {row.item_code: row.opening for row in rows}
    flags: list[StockFlag] = []
    for flag in month_flags(rows, far_above):
        if flag.kind is StockFlagKind.OVERDRAWN:
            visits = visits_beyond_stock(
                opening[flag.item_code], _moves(clinic.id, month, flag.item_code)
            )
        else:
            visits = _dispensing_visits(clinic.id, month, flag.item_code)
        flags.append(StockFlag(flag.kind, flag.item_code, flag.item_name, visits, flag.detail))
    flags += trace_codes_twice(clinic.id, month)
    return StockStatement(clinic, month, rows, flags)


def far_above_for(clinic: Clinic, month: str) -> Fraction | None:
    """The district's ``[flags] stock_far_above`` in force for the month's statement."""
    version = policy_for(clinic.district_code, month_bounds(month)[1])
    if version is None:
        return None
    flags = version.to_policy().oversight.flags
    return flags.stock_far_above if flags is not None else None


def stock_pointed(clinic: Clinic, month: str, far_above: Fraction | None) -> dict[int, list[str]]:
    """The month's visits a stock flag points at, each with the flags' kinds."""
    pointed: dict[int, list[str]] = {}
    for flag in stock_statement(clinic, month, far_above).flags:
        for visit_id in flag.visit_ids:
            kinds = pointed.setdefault(visit_id, [])
            if flag.kind.value not in kinds:
                kinds.append(flag.kind.value)
    return pointed


def visits_by_id(ids: Sequence[int]) -> dict[int, Visit]:
    """The visits behind the flags, for their receipt numbers, days and masked patients."""
    if not ids:
        return {}
    return {v.id: v for v in db.session.scalars(select(Visit).where(Visit.id.in_(list(ids))))}


def stock_view(clinic_code: str, month: str, user: User) -> StockStatement:
    """The statement of a clinic the user may see (a doctor: his own), with the policy's
    far-above check."""
    clinic = clinic_by_code(clinic_code, missing=NotFound)
    require_clinic_visible(user, clinic)
    return stock_statement(clinic, month, far_above_for(clinic, month))
