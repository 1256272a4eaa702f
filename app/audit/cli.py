"""``flask audit verify``, ``flask audit heads`` and ``flask audit adopt``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.audit.adopt import adopt_unaudited
from app.audit.operations import OPERATOR
from app.audit.queries import heads
from app.audit.verify import verify
from app.clock import clock

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

    Prints each finding and exits 1 if there is any.
    """
    result = verify(pins)
    for finding in result.findings:
        click.echo(str(finding), err=True)
    click.echo(result.summary())
    if not result.clean:
        raise SystemExit(1)


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
        f"{counts['events']} history rows"
    )
