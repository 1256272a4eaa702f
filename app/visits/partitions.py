"""PostgreSQL: the month partitions of ``visit`` and ``visit_line``, made ahead or on demand.

On PostgreSQL both tables are ``PARTITION BY LIST (month)`` (migration
``d8f1a3c5e7b9``), one partition per month, ``visit_y2026m11`` and
``visit_line_y2026m11``.  A row whose month has no partition is refused, so:

* ``flask visits partitions --ahead N`` makes every month's partitions from
  the oldest visit through N months ahead (run it monthly; it is idempotent);
* :func:`ensure_month` makes a month's partitions on demand before a visit is
  written into it.  Months known to have them are remembered per process (and
  per database), so the check costs nothing after the first visit of a month;
  on a miss the DDL runs in a short transaction of its own connection, never in
  the writer's: ``CREATE TABLE … PARTITION OF`` locks the parent table, and
  the writer's transaction must not hold it while it records.

Guarantees: every function here is idempotent and safe to run from several
processes at once (an advisory lock serialises the DDL, which then checks again);
on SQLite (unpartitioned) they do nothing.  A month's partitions are dropped
only by hand (``ALTER TABLE visit DETACH PARTITION …``, then ``DROP TABLE``),
lines first; a process that remembered the month is then wrong until restarted.
"""

from __future__ import annotations

import re
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, text

from app.localtime import parse_month

# Lines first when dropping, visits first when making (the lines' FK is on the
# parent tables, so either order works; this one reads naturally).
TABLES = ("visit", "visit_line")
PARTITION_NAME = re.compile(r"^(visit|visit_line)_y(\d{4})m(\d{2})$")
# Any value of bigint: serialises partition DDL between processes.
_LOCK_KEY = 7_202_611_001

# Per engine (so per database): the months known to have their partitions.
_known: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()


def partition_name(table: str, month: str) -> str:
    """``("visit", "2026-11")`` → ``"visit_y2026m11"``."""
    parsed = parse_month(month)
    if parsed is None:
        raise ValueError(f"not a month: {month!r}")
    year, number = parsed
    return f"{table}_y{year:04d}m{number:02d}"


def is_partition(name: str) -> bool:
    """Whether a table name is one of the month partitions (not in the models)."""
    return PARTITION_NAME.match(name) is not None


def add_months(month: str, count: int) -> str:
    """``("2026-11", 2)`` → ``"2027-01"``."""
    parsed = parse_month(month)
    if parsed is None:
        raise ValueError(f"not a month: {month!r}")
    year, number = parsed
    index = year * 12 + number - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_through(first: str, last: str) -> list[str]:
    """Every month from ``first`` through ``last``, in order."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def existing_months(connection: Connection) -> set[str]:
    """The months that have both partitions (PostgreSQL)."""
    rows = connection.execute(
        text(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
            "WHERE parent.relname IN ('visit', 'visit_line') "
            "AND parent.relnamespace = to_regnamespace(current_schema())::oid"
        )
    ).scalars()
    found: dict[str, set[str]] = {}
    for name in rows:
        match = PARTITION_NAME.match(name)
        if match:
            found.setdefault(f"{match[2]}-{match[3]}", set()).add(match[1])
    return {month for month, tables in found.items() if tables == set(TABLES)}


def create_partitions(connection: Connection, months: list[str]) -> list[str]:
    """Make the partitions of ``months`` that are missing, in the caller's transaction.

    Answers the partitions made.  Takes a transaction-level advisory lock, so
    two processes never race on the same ``CREATE``: the second one waits, then
    finds the partitions there.
    """
    if connection.dialect.name != "postgresql" or not months:
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    have = existing_months(connection)
    made = []
    for month in sorted(set(months) - have):
        for table in TABLES:
            name = partition_name(table, month)
            exists = connection.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar()
            if exists is None:
                # The name and the value come from parse_month's digits: nothing to quote.
                connection.execute(
                    text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES IN ('{month}')")
                )
                made.append(name)
    return made


def known(engine: Engine, month: str) -> bool:
    """Whether this process knows the month has its partitions (SQLite: always)."""
    months = _known.get(engine)
    if months is None:
        return engine.dialect.name != "postgresql"
    return month in months


def ensure_month(engine: Engine, month: str) -> list[str]:
    """Make the month's partitions if missing, in a short transaction of their own; the ones made.

    Call it before the writer's transaction touches ``visit``: the DDL waits
    for every transaction that holds a lock on the parent tables.
    """
    if known(engine, month):
        return []
    with engine.begin() as connection:
        # Waiting for the parent's lock queues every query on it behind us, and
        # a transaction of this very thread holding it would never let go: give
        # up after a few seconds (the write then fails; its retry tries again).
        connection.execute(text("SET LOCAL lock_timeout = '3s'"))
        made = create_partitions(connection, [month])
    _known.setdefault(engine, set()).add(month)
    return made


def create_ahead(connection: Connection, current: str, ahead: int) -> list[str]:
    """Partitions for every month from the oldest visit (or ``current``) through ``ahead`` more."""
    if connection.dialect.name != "postgresql":
        return []
    oldest = connection.execute(text("SELECT min(month) FROM visit")).scalar()
    first = min(oldest, current) if oldest else current
    return create_partitions(connection, months_through(first, add_months(current, ahead)))


def make_ahead(engine: Engine, current: str, ahead: int) -> list[str]:
    """:func:`create_ahead` in a transaction of its own: the partitions made."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as connection:
        made = create_ahead(connection, current, ahead)
    _known.pop(engine, None)  # re-read on the next write
    return made
