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
import hashlib
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    Constraint,
    DateTime,
    Engine,
    Integer,
    Table,
    bindparam,
    event,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator

from app.extensions import db

T = TypeVar("T")

_write_transaction: ContextVar[bool] = ContextVar("write_transaction", default=False)


# Ids that outgrow 32 bits at province scale (visits, lines, settlements, log
# rows): BIGINT on PostgreSQL; on SQLite the rowid is already 64-bit and an
# autoincrementing key must be spelled INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# The largest such id (BIGINT's, and SQLite's rowid's): a larger number in a URL
# names no row and must not reach the database, which would refuse the parameter.
MAX_ID = 2**63 - 1

C = TypeVar("C", bound=Constraint)


def only_on(dialect: str, constraint: C) -> C:
    """A constraint that exists on one database only (created there by the migrations).

    ``ddl_if`` keeps it out of ``create_all`` elsewhere; :func:`compared_schema`
    keeps autogenerate, which does not read ``ddl_if``, from asking for it there.
    """
    constraint.info["only_on"] = dialect
    return constraint.ddl_if(dialect=dialect)


def compared_schema(
    dialect: str, unmapped_table: Callable[[str], bool]
) -> dict[str, Callable[..., bool]]:
    """Alembic's ``include_name`` / ``include_object`` for comparing the models with ``dialect``.

    Leaves out the tables ``unmapped_table`` names (PostgreSQL's month
    partitions: they are the parent's storage, not models) and the foreign keys
    pointing at them, and the constraints :func:`only_on` another database.
    """

    def include_name(name: str | None, type_: str, _parents: dict[str, Any]) -> bool:
        return not (type_ == "table" and name is not None and unmapped_table(name))

    def include_object(obj: Any, _name: Any, type_: str, reflected: bool, _other: Any) -> bool:
        if reflected:
            # PostgreSQL also lists the copies of a foreign key that point at
            # each partition of a partitioned table.
            return not (
                type_ == "foreign_key_constraint" and unmapped_table(obj.referred_table.name)
            )
        only = getattr(obj, "info", {}).get("only_on")
        return only is None or only == dialect

    return {"include_name": include_name, "include_object": include_object}


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
    """Make SQLite behave (foreign keys on, waits instead of 'database is locked');
    on PostgreSQL bound every wait for the server on the client side."""
    if engine.dialect.name == "postgresql":
        _bound_postgres_waits(engine)
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        # PostgreSQL's sha256(), as hex, for SQL that seals audit entries (app.audit).
        dbapi_connection.create_function("sha256_hex", -1, _sha256_hex, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # How long a writer waits for another's lock is the driver's ``timeout``
        # (DB_STATEMENT_TIMEOUT, see app.config.engine_options).
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_transaction.get() else "BEGIN")


@contextmanager
def without_waiting_for_the_disk(engine: Engine) -> Iterator[None]:
    """Commits that do not wait for the disk, for a one-off bulk load (the demo seed).

    Every rule, lock and constraint still applies and every unit of work still
    commits on its own; only the flush to disk at each commit is skipped
    (SQLite ``synchronous=OFF``, PostgreSQL ``synchronous_commit=off``), which
    is what made the demo's few thousand one-visit transactions take minutes.
    A power cut during the load can lose (SQLite: corrupt) what it wrote, so it
    is only for data that is made again by running the load again.
    """
    setting = {
        "sqlite": "PRAGMA synchronous=OFF",
        "postgresql": "SET synchronous_commit TO off",
    }.get(engine.dialect.name)
    if setting is None:
        yield
        return

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(setting)
        cursor.close()

    # Pooled connections were opened without the setting: drop them, so every
    # connection the load uses is new, and again after, so none keeps it.
    db.session.remove()
    engine.dispose()
    event.listen(engine, "connect", _on_connect)
    try:
        yield
    finally:
        event.remove(engine, "connect", _on_connect)
        db.session.remove()
        engine.dispose()


# The client-side bound for one database wait, in seconds, where a caller needs a
# shorter one than the engine's (the readiness probe).
_wait_bound: ContextVar[float | None] = ContextVar("wait_bound", default=None)


@contextmanager
def database_wait_bound(seconds: float) -> Iterator[None]:
    """Within the block, no single wait for PostgreSQL lasts longer than ``seconds``."""
    token = _wait_bound.set(seconds)
    try:
        yield
    finally:
        _wait_bound.reset(token)


def _bound_postgres_waits(engine: Engine) -> None:
    """Connections whose every wait for the server ends within ``client_deadline`` seconds.

    The server's ``statement_timeout`` bounds a query on a live server, which
    answers with an error; a server that is stopped (a frozen VM, a partition)
    answers nothing, and its kernel may still acknowledge every packet, so
    neither TCP keepalives nor ``tcp_user_timeout`` notice.  Only the client
    can bound that wait: each wait on the socket (a query, a fetch, a commit,
    the pool's ping) gets ``client_deadline`` (the statement timeout plus a
    margin); past it the connection is closed and ``OperationalError`` raised,
    which the pool discards and the app answers with a 503.
    """
    connection_class = _deadline_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        deadline = cparams.pop("client_deadline", None)
        connection = connection_class.connect(*cargs, **cparams)
        connection.client_deadline = deadline
        return connection


@cache
def _deadline_connection_class() -> Any:
    import psycopg
    from psycopg import errors

    class DeadlineConnection(psycopg.Connection[Any]):
        client_deadline: float | None = None

        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            bound = _wait_bound.get() or self.client_deadline
            if bound is not None:
                timeout = bound if timeout is None else min(timeout, bound)
            try:
                return super().wait(gen, interval, timeout)
            except errors._WaitTimeout as exc:
                # The connection is in an unknown state: never reuse it.
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the database did not answer within {timeout:g} s"
                ) from exc

    return DeadlineConnection


def _sha256_hex(*parts: bytes | str | int) -> str:
    """SHA-256 (hex) of the parts joined: bytes as they are, text as UTF-8, integers in decimal."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode("utf-8"))
    return digest.hexdigest()


@contextmanager
def unit_of_work(*, expire: bool = True, join_reads: bool = False) -> Iterator[Session]:
    """One write transaction: commit at the end, roll back on any error.

    ``expire=False`` keeps what the session loaded as loaded across both
    commits, for a writer that writes only through Core statements and answers
    from what it wrote (recording a visit): the user is not read again for the
    scope check, nor anything to build the answer or to log the request.  Such
    a writer must read what it relies on inside the unit (``populate_existing``
    or Core) and :func:`forget` rows it changed.

    ``join_reads=True`` lets the unit carry on, on PostgreSQL, in the
    transaction the request's reads opened (the token lookup) instead of
    committing it first: that saves its COMMIT, the pool's check-in and
    pre-ping and a new BEGIN.  It changes nothing that commits: every write
    goes through a unit of work, which commits its own, so the open
    transaction holds reads only (a session with pending ORM changes is
    committed first as usual), and under PostgreSQL's READ COMMITTED (the
    default, which the app keeps) each statement sees what is committed when
    it starts, in that transaction as in a new one.  SQLite always starts
    afresh: its writer must ``BEGIN IMMEDIATE``.
    """
    session = db.session()
    joined = (
        join_reads
        and session.in_transaction()
        and not (session.new or session.dirty or session.deleted)
        and session.get_bind().dialect.name == "postgresql"
    )
    if not joined:
        if session.in_transaction():
            # Close the read-only transaction a request may have opened (loading
            # the user, say) so the write transaction starts fresh, and
            # IMMEDIATE on SQLite.
            _commit(session, expire=expire)
        token = _write_transaction.set(True)
        try:
            session.connection()
        finally:
            _write_transaction.reset(token)
    try:
        yield session
        _commit(session, expire=expire)
    except BaseException:
        session.rollback()
        raise


def end_reads(session: Session) -> None:
    """End the read-only transaction a request opened, keeping what it loaded.

    For a writer that must not hold the reads' locks while it waits on
    another connection (making a month's partitions); with writes pending it
    does nothing: those commit in their unit of work.
    """
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        _commit(session, expire=False)


def _commit(session: Session, *, expire: bool) -> None:
    if expire:
        session.commit()
        return
    saved = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = saved


def forget(session: Session, model: type, *key: Any) -> None:
    """Expire the session's copy of a row, if it holds one, after a Core write changed it."""
    obj = session.identity_map.get(identity_key(model, key))
    if obj is not None:
        session.expire(obj)


def upsert_statement(
    dialect: str, model: type | Table, set_: dict[str, Any], returning: list[Any]
) -> Any:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE SET … RETURNING …``: one statement.

    Build it once per dialect and run it with the row's values as parameters: it
    creates the row or updates the existing one, and answers with
    ``returning`` of the row as written.  The row stays locked until the
    transaction ends (PostgreSQL takes the lock an UPDATE takes; SQLite's unit
    of work is already ``BEGIN IMMEDIATE``), so it is also a lock that creates
    its row.  Given the model's ``Table`` rather than the model, it is a Core
    statement, which runs on a connection without the ORM's bulk-insert path.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model if isinstance(model, Table) else model.__table__  # type: ignore[attr-defined]
    key = [column.name for column in table.primary_key]
    return insert(model).on_conflict_do_update(index_elements=key, set_=set_).returning(*returning)


def accumulate_statement(dialect: str, model: type | Table, added: list[str]) -> Any:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE SET c = c + excluded.c``: one statement.

    Run it with many rows (an executemany) to add each row's ``added`` columns
    to the row of its key, creating the rows that are missing.  The addition
    happens in the database, atomically, whatever else writes the row.  Keys
    must be distinct within one call (PostgreSQL refuses to update one row twice).
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model if isinstance(model, Table) else model.__table__  # type: ignore[attr-defined]
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key],
        set_={name: table.c[name] + stmt.excluded[name] for name in added},
    )


def loaded_instance(model: type[T], values: dict[str, Any]) -> T:
    """An instance holding ``values`` as if loaded from its row: no change events, no history.

    What the ORM's loader does (a tenth of what the constructor costs, which
    fires an event per attribute); the instance is never added to a session.
    """
    instance = cast(T, model.__mapper__.class_manager.new_instance())  # type: ignore[attr-defined]
    instance_dict(instance).update(values)
    return instance


def attached(session: Session, model: type[T], values: dict[str, Any]) -> T:
    """The row ``values`` (every column) as a persistent instance of ``session``, no query.

    What the ORM's loader makes of a row, for a caller that read it with Core: the
    instance is in the session's identity map, so its relationships load lazily as
    usual.  An instance the session already holds for that key is answered as it
    is (the session's own copy; the caller decided on the row's fresh values).
    """
    # Mappers are configured on first use, lazily and under a lock; a Core-only path
    # must wait for it too, or a worker's first concurrent requests meet attributes
    # not yet instrumented (a no-op once configured).
    configure_mappers()
    mapper = sa_inspect(model)
    key = mapper.identity_key_from_primary_key(
        [values[column.key] for column in mapper.primary_key]
    )
    existing = session.identity_map.get(key)
    if existing is not None:
        return cast(T, existing)
    instance = loaded_instance(model, values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def insert_missing(session: Session, model: type, values: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: create a row to lock if it is not there yet."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def locked(session: Session, model: type[T], **key: Any) -> T | None:
    """The row with ``key``, locked for this transaction and freshly read."""
    stmt = _locked_statement(cast(Hashable, model), tuple(sorted(key)))
    return cast("T | None", session.scalars(stmt, key).one_or_none())


@cache
def _locked_statement(model: Any, names: tuple[str, ...]) -> Any:
    where: dict[str, Any] = {name: bindparam(name) for name in names}
    return (
        select(model).filter_by(**where).with_for_update().execution_options(populate_existing=True)
    )


def lock_or_create(session: Session, model: type[T], values: dict[str, Any], **key: Any) -> T:
    """:func:`locked`, creating the row (``key`` and ``values``) first when it is missing.

    One statement when the row exists (nearly always); three the first time.
    """
    row = locked(session, model, **key)
    if row is None:
        insert_missing(session, model, {**key, **values})
        row = locked(session, model, **key)
    assert row is not None
    return row
