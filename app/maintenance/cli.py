"""``flask db backup FILE`` and ``flask db restore FILE`` (added to Flask-Migrate's ``db`` group).

A restore is followed by the same checks an auditor would run: every frozen
statement's figures against its visits, and ``flask audit verify``'s walk of
the audit chains; the command exits non-zero if any fails.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.integrity.verify import verify as verify_audit
from app.maintenance.backup import BackupError, backup, restore
from app.places.models import Clinic
from app.settlement.models import Statement
from app.settlement.queries import verify_statement


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(target: Path) -> None:
    """Write a consistent backup of the database to TARGET (safe while the app runs)."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        backup(url, target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up to {target} ({target.stat().st_size:,} bytes)")


def verify_restored() -> list[str]:
    """Every problem found in the restored data (empty when it is whole)."""
    problems: list[str] = []
    rows = db.session.execute(
        select(Clinic.code, Statement.month)
        .join(Statement, Statement.clinic_id == Clinic.id)
        .order_by(Clinic.code, Statement.month)
    ).all()
    for code, month in rows:
        result = verify_statement(code, month)
        problems += [f"{code} {month} {p.field}: {p.message}" for p in result.problems]
    problems += [f"audit {finding}" for finding in verify_audit().findings]
    return problems


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(source: Path, yes: bool) -> None:
    """Replace the whole database with the backup SOURCE, then verify it."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if not yes:
        click.confirm(f"Replace every row of {db.engine.url!r} with {source}?", abort=True)
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold the old data open
    try:
        restore(url, source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored from {source}")
    problems = verify_restored()
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in the restored data")
    click.echo("statements verified: every stored figure matches its visits; audit chains verified")
