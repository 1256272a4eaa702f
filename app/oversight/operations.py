"""Receipt codes and patients' answers: the writers of the verification tables.

Guarantees: a visit's code is created once (``INSERT … ON CONFLICT DO
NOTHING`` then read, so two printers at once get the same code); an answer
is stored with the visit it is about and the time, never with who gave it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import unit_of_work
from app.errors import InvalidInput, NotFound, Problem
from app.extensions import db
from app.oversight.codes import new_code
from app.oversight.models import ReceiptCode, ReceiptFeedback
from app.visits.models import Visit


def receipt_code_for(visit_id: int, now: dt.datetime) -> str:
    """The visit's verification code, created the first time a receipt is shown."""
    existing = db.session.scalar(select(ReceiptCode.code).where(ReceiptCode.visit_id == visit_id))
    if existing is not None:
        return existing
    for _ in range(5):  # a collision of 60 random bits is astronomically rare; retry anyway
        try:
            with unit_of_work() as session:
                if session.get(Visit, visit_id) is None:
                    raise NotFound(Problem("visit", f"no visit {visit_id}"))
                if session.get(ReceiptCode, visit_id) is None:
                    session.add(ReceiptCode(visit_id=visit_id, code=new_code(), created_at=now))
        except IntegrityError:
            continue
        code = db.session.scalar(select(ReceiptCode.code).where(ReceiptCode.visit_id == visit_id))
        if code is not None:
            return code
    raise RuntimeError("could not create a receipt code")


def record_feedback(code: str, asked_more: bool, said_paid: int | None, now: dt.datetime) -> None:
    """Store a patient's answer about the receipt with ``code``."""
    if said_paid is not None and said_paid < 0:
        raise InvalidInput(Problem("said_paid", "must not be negative"))
    with unit_of_work() as session:
        row = session.scalar(select(ReceiptCode).where(ReceiptCode.code == code))
        if row is None:
            raise NotFound(Problem("code", "no receipt with this code"))
        session.add(
            ReceiptFeedback(
                visit_id=row.visit_id,
                asked_more=asked_more,
                said_paid=said_paid if asked_more else None,
                at=now,
            )
        )
