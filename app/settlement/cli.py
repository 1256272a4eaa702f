"""``flask statements …``: print a district's month, verify stored figures.

The CLI runs as the server's operator: it reads every clinic of the district
and writes nothing to the database.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.clock import clock
from app.errors import DomainError
from app.settlement.documents import (
    statement_filename,
    statement_pdf,
    summary_filename,
    summary_pdf,
)
from app.settlement.queries import (
    DistrictSummary,
    district_summary,
    statement_view,
    verify_statement,
)

statements_cli = AppGroup("statements", help="Monthly statements and district summaries.")


def _summary(district: str, month: str) -> DistrictSummary:
    try:
        return district_summary(district, month, None)
    except DomainError as exc:
        raise click.UsageError(str(exc)) from None


@statements_cli.command("render")
@click.option("--district", required=True, help="6-digit district code, e.g. 440114")
@click.option("--month", required=True, help="YYYY-MM")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="folder to write the PDFs into (created if missing)",
)
def render(district: str, month: str, out_dir: Path) -> None:
    """Write every clinic's statement PDF and the district summary PDF."""
    summary = _summary(district, month)
    now = clock()()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with click.progressbar(
        summary.lines,
        label=f"{district} {month}",
        item_show_func=lambda line: line.clinic.code if line else "",
    ) as lines:
        for line in lines:
            view = statement_view(line.clinic.code, month, None)
            path = out_dir / statement_filename(view, "pdf")
            path.write_bytes(statement_pdf(view, now))
            written.append(path)
    path = out_dir / summary_filename(summary, "pdf")
    path.write_bytes(summary_pdf(summary, now))
    written.append(path)
    click.echo(
        f"Wrote {len(summary.lines)} clinic statements and the district summary "
        f"to {out_dir.resolve()}"
    )
    for path in written:
        click.echo(f"  {path.name}")


@statements_cli.command("verify")
@click.option("--district", required=True, help="6-digit district code")
@click.option("--month", required=True, help="YYYY-MM")
def verify(district: str, month: str) -> None:
    """Prove every frozen statement's stored figures equal its visits; exit 1 if not."""
    summary = _summary(district, month)
    bad = 0
    for line in summary.lines:
        result = verify_statement(line.clinic.code, month)
        if not result.checked:
            click.echo(f"{result.clinic} {month} {result.status}: open, figures are live")
        elif result.ok:
            click.echo(f"{result.clinic} {month} {result.status}: OK")
        else:
            bad += 1
            click.echo(f"{result.clinic} {month} {result.status}: MISMATCH", err=True)
            for problem in result.problems:
                click.echo(f"  {problem.field}: {problem.message}", err=True)
    if bad:
        raise click.exceptions.Exit(1)
    click.echo(f"{len(summary.lines)} clinics checked, all stored figures match their visits")
