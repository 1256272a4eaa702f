"""``flask visits``: idempotency keys purged after a window; the month partitions made ahead.

Guarantee: a key younger than the window (``IDEMPOTENCY_KEY_DAYS``, 30 days
by default) is never deleted, so a client retrying within the window still
gets its first visit back instead of a second one; older keys are deleted in
short transactions of ``batch`` rows, so the purge never holds a long lock
on the table the recording path writes to.  Visits themselves are never
touched.

``flask visits partitions --ahead N`` makes, on PostgreSQL, the partitions of
every month from the oldest visit through N months after the current one
(idempotent: run it monthly, e.g. from cron; a month missed is still made on
demand by the first visit into it, :mod:`app.visits.partitions`).
"""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import delete, select

from app.clock import clock
from app.database import unit_of_work
from app.extensions import db
from app.localtime import month_of
from app.visits.models import IdempotencyKey
from app.visits.partitions import add_months, make_ahead

DEFAULT_KEY_DAYS = 30

visits_cli = AppGroup("visits", help="Maintenance of recorded visits.")


def purge_idempotency_keys(before: dt.datetime, batch: int = 10_000) -> int:
    """Delete the keys created before ``before``; how many were deleted."""
    deleted = 0
    while True:
        with unit_of_work() as session:
            ids = list(
                session.scalars(
                    select(IdempotencyKey.id)
                    .where(IdempotencyKey.created_at < before)
                    .order_by(IdempotencyKey.id)
                    .limit(batch)
                )
            )
            if ids:
                session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < batch:
            return deleted


@visits_cli.command("purge-keys")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help=f"keep keys this many days (default: IDEMPOTENCY_KEY_DAYS, else {DEFAULT_KEY_DAYS})",
)
def purge_keys(days: int | None) -> None:
    """Delete idempotency keys older than the retention window."""
    if days is None:
        days = int(current_app.config.get("IDEMPOTENCY_KEY_DAYS", DEFAULT_KEY_DAYS))
    cutoff = clock()() - dt.timedelta(days=days)
    count = purge_idempotency_keys(cutoff)
    click.echo(f"Deleted {count} idempotency keys older than {days} days")


@visits_cli.command("partitions")
@click.option(
    "--ahead",
    type=click.IntRange(min=0, max=120),
    default=3,
    show_default=True,
    help="months after the current one to make partitions for",
)
def partitions(ahead: int) -> None:
    """PostgreSQL: make the month partitions of visit and visit_line that are missing."""
    if db.engine.dialect.name != "postgresql":
        click.echo("SQLite: visits are not partitioned; nothing to do")
        return
    current = month_of(clock()())
    made = make_ahead(db.engine, current, ahead)
    for name in made:
        click.echo(f"made {name}")
    last = add_months(current, ahead)
    click.echo(f"{len(made)} partitions made; every month through {last} has its own")
