"""``flask oversight …``: peer flags on demand.

Run by the server's operator.  The thresholds and switches are the policy's
(``flask policy load``; ``flask policy show`` prints them).  ``flask oversight
auto-submit`` lives with the statements it submits (:mod:`app.settlement.cli`)
but is a command of this group.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.checks.labels import decimal_places
from app.clock import clock
from app.localtime import parse_month
from app.oversight.operations import recompute_flags

oversight_cli = AppGroup("oversight", help="Peer flags, credit-first review, auto-submit.")


def _month(month: str) -> str:
    if parse_month(month) is None:
        raise click.BadParameter("YYYY-MM", param_hint="--month")
    return month


@oversight_cli.command("flags")
@click.option("--district", required=True, help="6-digit district code, e.g. 440114")
@click.option("--month", required=True, help="YYYY-MM")
def flags_command(district: str, month: str) -> None:
    """Compare every clinic-month of a district with its peers; store the flags."""
    flags = recompute_flags(district, _month(month), clock()())
    for f in flags:
        value, score = decimal_places(f.value, 4), decimal_places(f.score, 1)
        about = f"{f.figure.value}:{f.diagnosis}" if f.diagnosis else f.figure.value
        click.echo(f"{f.clinic}\t{about}\t{value}\t{score:+}")
    click.echo(f"{len(flags)} flags for {district} {month}")
