"""The clinic-month lock: the one function every writer of visits and statements calls.

Guarantees:

* :func:`lock_clinic_month` creates the clinic-month statement row if it is
  missing and locks it for the caller's unit of work (``SELECT … FOR UPDATE``
  on PostgreSQL; on SQLite the unit of work is already ``BEGIN IMMEDIATE``);
* recording or voiding a visit and every statement transition take this same
  lock, first, so a visit either commits before its month is submitted (and is
  counted) or sees the month frozen and is refused (:func:`lock_open_month`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.database import lock_or_create
from app.errors import Conflict, Problem
from app.periods.models import Statement
from app.places.models import Clinic


def lock_clinic_month(session: Session, clinic: Clinic, month: str) -> Statement:
    """The clinic-month statement row, created if missing, locked for this transaction."""
    return lock_or_create(session, Statement, {"status": "open"}, clinic_id=clinic.id, month=month)


def lock_open_month(session: Session, clinic: Clinic, month: str, field: str) -> Statement:
    """:func:`lock_clinic_month`, refused with a :class:`Conflict` unless the month is open."""
    statement = lock_clinic_month(session, clinic, month)
    if statement.status != "open":
        raise Conflict(
            Problem(
                field,
                f"{month} of clinic {clinic.code} is {statement.status}; "
                "its visits can no longer change",
                "month_frozen",
            )
        )
    return statement
