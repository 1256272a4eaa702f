"""The writers of the stock area: a stock-take (盘存).  Deliveries come by import
(:mod:`app.imports`, ``flask import-data deliveries``).

Guarantee: a stock-take stores the book of its day (deliveries, dispensing and
earlier counts up to its end) beside the count, and the difference as the
adjustment (``ck_stock_take_adjusts_to_count``), in one unit of work with its
audit entry on the clinic's chain; one count per clinic, item and day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from app.audit.operations import audit_clinic_event
from app.auth.access import require_doctor_of
from app.auth.models import User
from app.catalog.models import CatalogItem
from app.database import unit_of_work
from app.errors import Conflict, InvalidInput, NotFound, Problem, ProblemCode
from app.money import MoneyFormatError, parse_quantity
from app.places.queries import clinic_by_code
from app.stock.models import StockTake
from app.stock.queries import book_on
from app.stock.rules import STOCKED_KINDS, signed_quantity, stock_take_adjustment


def _is_zero(text: str) -> bool:
    try:
        return Decimal(str(text).strip()) == 0
    except InvalidOperation:
        return False


def record_stock_take(
    clinic_code: str,
    item_code: str,
    taken_on: dt.date,
    counted: str,
    actor: User,
    now: dt.datetime,
    today: dt.date,
    note: str = "",
) -> StockTake:
    """The clinic's doctor counts one item at the end of ``taken_on`` (not in the future)."""
    problems: list[Problem] = []
    quantity = 0
    if not _is_zero(counted):  # an empty shelf is a count too
        try:
            quantity = parse_quantity(counted)
        except MoneyFormatError as exc:
            problems.append(Problem("counted", str(exc), ProblemCode(exc.code)))
    if taken_on > today:
        problems.append(Problem("taken_on", "is in the future", ProblemCode.COUNTED_IN_FUTURE))
    note = (note or "").strip()
    if len(note) > 200:
        problems.append(Problem("note", "at most 200 characters", ProblemCode.TOO_LONG))
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_doctor_of(actor, clinic)
        item = session.scalar(select(CatalogItem).where(CatalogItem.code == item_code))
        if item is None or item.kind not in STOCKED_KINDS:
            problems.append(
                Problem("item", f"{item_code!r} is not a stocked item", ProblemCode.UNKNOWN_ITEM)
            )
        if problems:
            raise InvalidInput(problems)
        exists = session.scalar(
            select(StockTake.id).where(
                StockTake.clinic_id == clinic.id,
                StockTake.item_code == item_code,
                StockTake.taken_on == taken_on,
            )
        )
        if exists is not None:
            raise Conflict(
                Problem(
                    "taken_on", "this item was already counted on that day", ProblemCode.COUNTED
                )
            )
        book = book_on(clinic.id, item_code, taken_on)
        take = StockTake(
            clinic_id=clinic.id,
            item_code=item_code,
            taken_on=taken_on,
            counted=quantity,
            book=book,
            adjustment=stock_take_adjustment(book, quantity),
            note=note or None,
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        session.add(take)
        audit_clinic_event(
            session,
            actor,
            "stock.take",
            ("stock_take", f"{clinic.code}/{item_code}/{taken_on.isoformat()}"),
            clinic.code,
            {"counted": signed_quantity(quantity), "book": signed_quantity(book), "note": note},
            now,
        )
    return take
