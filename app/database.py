"""Database plumbing shared by every area: time columns, units of work, row locks.

Guarantees:

* :class:`UTCDateTime` stores UTC and always hands back timezone-aware UTC,
  on SQLite (which has no time zones) and PostgreSQL alike;
* :func:`unit_of_work` is the only place that commits: everything written in
  its block commits once, or rolls back on any error;
* on SQLite a unit of work starts with ``BEGIN IMMEDIATE``, so two writers are
  serialised at their first statement (SQLite ignores ``FOR UPDATE``, and two
  deferred transactions that both read then write would race or deadlock);
  on PostgreSQL :func:`locked` issues ``SELECT … FOR UPDATE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from app.extensions import db

T = TypeVar("T")

_write_transaction: ContextVar[bool] = ContextVar("write_transaction", default=False)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave: foreign keys on, waits instead of 'database is locked'."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # How long a writer waits for another's lock is the driver's ``timeout``
        # (DB_STATEMENT_TIMEOUT, see app.config.engine_options).
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_transaction.get() else "BEGIN")


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One write transaction: commit at the end, roll back on any error."""
    session = db.session()
    if session.in_transaction():
        # Close the read-only transaction a request may have opened (loading the
        # user, say) so the write transaction starts fresh, and IMMEDIATE on SQLite.
        session.commit()
    token = _write_transaction.set(True)
    try:
        session.connection()
    finally:
        _write_transaction.reset(token)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def insert_missing(session: Session, model: type, values: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: create a row to lock if it is not there yet."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def locked(session: Session, model: type[T], **key: Any) -> T | None:
    """The row with ``key``, locked for this transaction and freshly read."""
    stmt = (
        select(model).filter_by(**key).with_for_update().execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()
