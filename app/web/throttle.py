"""Throttling counted in the database: every worker and every server behind one
address share the same counters (Flask-Limiter's storage ``database://``).

Guarantees:

* a counter is one row (``throttle_counter``: key, count, when its window
  ends), added to in one ``INSERT … ON CONFLICT DO UPDATE`` that restarts an
  ended window, so two workers counting at once never lose a hit and never
  count the same window twice;
* each hit commits on its own (a unit of work of its own, after the request's
  reads), so a refused login is counted even though nothing else was written;
* rows of long-ended windows are deleted now and then by the hits themselves.

Fixed windows only (Flask-Limiter's default strategy).  ``memory://`` (one
process) and ``redis://`` remain available through ``RATELIMIT_STORAGE_URI``.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, cast

from limits.storage import Storage
from sqlalchemy import CursorResult, Float, Integer, String, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from app.database import unit_of_work
from app.extensions import Model, db

# Rows whose window ended more than this long ago are swept (seconds).
_KEEP_ENDED = 24 * 3600
_SWEEP_EVERY = 500  # hits per process between two sweeps


class ThrottleCounter(Model):
    """One rate-limit window: how many hits under ``key`` until ``expires_at``."""

    __tablename__ = "throttle_counter"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # Seconds since the epoch, as Flask-Limiter reckons its windows.
    expires_at: Mapped[float] = mapped_column(Float)


class DatabaseStorage(Storage):
    """A ``limits`` storage over :class:`ThrottleCounter` (scheme ``database://``)."""

    STORAGE_SCHEME = ["database"]  # noqa: RUF012 (limits reads a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._hits = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        now = time.time()
        table = cast(Table, ThrottleCounter.__table__)
        with unit_of_work(expire=False) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            stmt = insert(table).values(key=key, count=amount, expires_at=now + expiry)
            ended = table.c.expires_at <= now
            upsert = stmt.on_conflict_do_update(
                index_elements=["key"],
                # A window that has ended starts again at this hit.
                set_={
                    "count": case(
                        (ended, stmt.excluded["count"]),
                        else_=table.c.count + stmt.excluded["count"],
                    ),
                    "expires_at": case(
                        (ended, stmt.excluded["expires_at"]), else_=table.c.expires_at
                    ),
                },
            ).returning(table.c.count)
            count = int(session.execute(upsert).scalar_one())
            if next(self._hits) % _SWEEP_EVERY == 0:
                session.execute(delete(table).where(table.c.expires_at < now - _KEEP_ENDED))
        return count

    def get(self, key: str) -> int:
        row = db.session.execute(
            select(ThrottleCounter.count, ThrottleCounter.expires_at).where(
                ThrottleCounter.key == key
            )
        ).one_or_none()
        if row is None or row[1] <= time.time():
            return 0
        return int(row[0])

    def get_expiry(self, key: str) -> float:
        expires = db.session.scalar(
            select(ThrottleCounter.expires_at).where(ThrottleCounter.key == key)
        )
        return float(expires) if expires is not None else time.time()

    def check(self) -> bool:
        try:
            db.session.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with unit_of_work() as session:
            result = cast(CursorResult[Any], session.execute(delete(ThrottleCounter)))
            return int(result.rowcount or 0)

    def clear(self, key: str) -> None:
        with unit_of_work() as session:
            session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))
