"""``flask audit verify``, ``anchor``, ``heads``, ``adopt`` and ``access``."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.audit.operations import OPERATOR
from app.audit.queries import heads, resident_reads
from app.clock import clock
from app.errors import DomainError
from app.extensions import db
from app.integrity.adopt import adopt_unaudited
from app.integrity.anchors import anchor_line, write_anchor
from app.integrity.verify import verify
from app.localtime import format_local
from app.people.models import Resident
from app.people.rules import mask_id_number, parse_id_number

audit_cli = AppGroup("audit", help="The tamper-evident audit chains.")


@audit_cli.command("verify")
@click.option(
    "--pin",
    "pins",
    multiple=True,
    help="A head printed on a statement ('CHAIN #SEQ HASH') that must still be in the chain.",
)
def verify_command(pins: tuple[str, ...]) -> None:
    """Re-walk every chain and compare every visit and statement with its last audited state.

    Also checks every signed anchor (``flask audit anchor``) when an anchor file
    is configured (``AUDIT_ANCHOR_FILE``).  Prints each finding and exits 1 if there is any.
    """
    result = verify(pins, _anchors())
    for finding in result.findings:
        click.echo(str(finding), err=True)
    click.echo(result.summary())
    if not result.clean:
        raise SystemExit(1)


def _anchors() -> tuple[str, bytes | None] | None:
    """The anchor file and its key, when anchoring is configured (AUDIT_ANCHOR_FILE)."""
    path = str(current_app.config["AUDIT_ANCHOR_FILE"])
    if not path:
        return None
    return path, str(current_app.config["AUDIT_ANCHOR_KEY"]).encode("utf-8") or None


@audit_cli.command("anchor")
def anchor_command() -> None:
    """Append today's chain heads, signed, to the anchor file (run daily from cron)."""
    path = str(current_app.config["AUDIT_ANCHOR_FILE"])
    key = str(current_app.config["AUDIT_ANCHOR_KEY"]).encode("utf-8")
    if not path or not key:
        raise click.ClickException(
            "set AUDIT_ANCHOR_FILE and AUDIT_ANCHOR_KEY (both kept outside the database) first"
        )
    write_anchor(path, anchor_line(heads(), clock()(), key))
    click.echo(f"anchored {len(heads())} chain heads in {path}")


@audit_cli.command("heads")
def heads_command() -> None:
    """Print the head of every chain (what a signed paper pins)."""
    for head in heads().values():
        click.echo(head.label())


@audit_cli.command("adopt")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def adopt_command(yes: bool) -> None:
    """Record every visit, statement and history row written before the chain existed.

    Run once after upgrading a database that already holds visits; rows the
    chain already names are left alone (a changed one stays a finding).
    """
    if not yes:
        click.confirm("Adopt every unaudited row into the audit chain as it is now?", abort=True)
    counts = adopt_unaudited(OPERATOR, clock()())
    click.echo(
        f"adopted {counts['visits']} visits, {counts['statements']} statements, "
        f"{counts['events']} history rows, {counts['reference']} reference records"
    )


@audit_cli.command("access")
@click.option("--resident", "id_number", help="The resident's ID number.")
@click.option("--user", "username", help="Only reads by this username.")
@click.option("--days", type=int, default=None, help="Only the last N days.")
@click.option("--limit", type=int, default=1000, show_default=True)
def access_command(
    id_number: str | None, username: str | None, days: int | None, limit: int
) -> None:
    """Who read whose record, when and for what (newest first; ID numbers masked)."""
    resident_id = None
    if id_number is not None:
        try:
            number = parse_id_number(id_number, "resident").value
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        resident = db.session.scalar(select(Resident).where(Resident.id_number == number))
        if resident is None:
            raise click.ClickException("no resident with this ID number")
        resident_id = resident.id
    since = clock()() - dt.timedelta(days=days) if days else None
    rows = resident_reads(resident_id, username, since, limit)
    numbers = dict(
        db.session.execute(
            select(Resident.id, Resident.id_number).where(
                Resident.id.in_({r.resident_id for r in rows})
            )
        ).all()
    )
    for row in rows:
        click.echo(
            f"{format_local(row.at, '%Y-%m-%d %H:%M:%S')}  {row.username:<16} "
            f"resident {row.resident_id:>8} {mask_id_number(numbers.get(row.resident_id, ''))}  "
            f"{row.purpose:<12} {row.clinic_code or ''}"
        )
    click.echo(f"{len(rows)} read(s)")
