"""``flask audit verify`` and ``flask audit heads``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.audit.queries import heads
from app.audit.verify import verify

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
