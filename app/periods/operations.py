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

from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from app.database import insert_missing, lock_or_create
from app.errors import Conflict, Problem, ProblemCode
from app.periods.models import Statement
from app.places.models import Clinic

STATEMENT = cast(Table, Statement.__table__)


def lock_clinic_month(session: Session, clinic: Clinic, month: str) -> Statement:
    """The clinic-month statement row, created if missing, locked for this transaction."""
    return lock_or_create(session, Statement, {"status": "open"}, clinic_id=clinic.id, month=month)


def lock_open_month(session: Session, clinic: Clinic, month: str, field: str) -> Statement:
    """:func:`lock_clinic_month`, refused with a :class:`Conflict` unless the month is open."""
    statement = lock_clinic_month(session, clinic, month)
    require_open(clinic, month, statement.status, field)
    return statement


_STATUS_FOR_UPDATE = (
    select(STATEMENT.c.status)
    .where(STATEMENT.c.clinic_id == bindparam("clinic_id"), STATEMENT.c.month == bindparam("month"))
    .with_for_update()
)


def lock_month_open(session: Session, clinic: Clinic, month: str, field: str) -> None:
    """:func:`lock_open_month` for a writer that needs the lock and the check, not the row.

    The same lock (created if missing), taken by a Core read of the status alone:
    no :class:`Statement` is loaded (recording a visit, which writes with Core).
    """
    connection = session.connection()
    key = {"clinic_id": clinic.id, "month": month}
    status = connection.execute(_STATUS_FOR_UPDATE, key).scalar_one_or_none()
    if status is None:
        insert_missing(session, Statement, {**key, "status": "open"})
        status = connection.execute(_STATUS_FOR_UPDATE, key).scalar_one()
    require_open(clinic, month, status, field)


def require_open(clinic: Clinic, month: str, status: str, field: str) -> None:
    """A :class:`Conflict` naming ``field`` unless ``status`` (read under the lock) is open."""
    if status != "open":
        raise Conflict(
            Problem(
                field,
                f"{month} of clinic {clinic.code} is {status}; its visits can no longer change",
                ProblemCode.MONTH_FROZEN,
            )
        )
