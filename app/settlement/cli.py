"""``flask statements …``: print a district's month, verify stored figures and the item rollup.

The CLI runs as the server's operator: it reads every clinic of the district
and writes nothing to the database.

``render`` reads the statements a batch of clinics at a time (a constant
number of queries per batch) and renders the PDFs in worker processes; at
most a few batches are in flight, so memory stays flat however many clinics
the district has.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import click
from flask.cli import AppGroup

from app.audit.operations import OPERATOR
from app.clock import clock
from app.errors import DomainError
from app.localtime import local_date
from app.oversight.cli import oversight_cli
from app.places.queries import all_districts
from app.settlement.documents import (
    statement_document,
    statement_filename,
    summary_filename,
    summary_pdf,
)
from app.settlement.figures import day_rollup_differences, item_rollup_differences
from app.settlement.operations import auto_submit
from app.settlement.queries import (
    DistrictSummary,
    district_statements,
    district_summary,
    verify_statement,
)
from app.settlement.rules import FIGURE_FIELDS, require_month
from app.visits.operations import rebuild_rollups
from reports.statement import write_statement

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
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="processes rendering PDFs; 1 renders in this process",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    # Each batch reads the month's visits and lines once; memory grows with the
    # batch's clinics (≈ 60 kB each), never with the visits.
    help="clinics read from the database at a time",
)
def render(district: str, month: str, out_dir: Path, workers: int, batch: int) -> None:
    """Write every clinic's statement PDF and the district summary PDF."""
    summary = _summary(district, month)
    now = clock()()
    out_dir.mkdir(parents=True, exist_ok=True)
    statements = district_statements(district, month, None, batch=batch)
    written: list[str] = []
    with click.progressbar(length=len(summary.lines), label=f"{district} {month}") as bar:
        if workers == 1:
            for views in statements:
                for view in views:
                    path = out_dir / statement_filename(view, "pdf")
                    written.append(path.name)
                    write_statement(statement_document(view, now), str(path))
                    bar.update(1)
        else:
            # spawn: a worker starts clean, with no copy of this process's
            # database connections, and imports only the renderer.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                pending: deque[Future[int]] = deque()
                for views in statements:
                    for view in views:
                        path = out_dir / statement_filename(view, "pdf")
                        written.append(path.name)
                        document = statement_document(view, now)
                        pending.append(pool.submit(write_statement, document, str(path)))
                    # Bounded: the parent never holds more than a few batches.
                    while len(pending) > 2 * batch:
                        pending.popleft().result()
                        bar.update(1)
                while pending:
                    pending.popleft().result()
                    bar.update(1)
    path = out_dir / summary_filename(summary, "pdf")
    path.write_bytes(summary_pdf(summary, now))
    click.echo(
        f"Wrote {len(summary.lines)} clinic statements and the district summary "
        f"to {out_dir.resolve()}"
    )
    for name in [*written, path.name]:
        click.echo(f"  {name}")


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


def _any_month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--month``: a YYYY-MM, or None for every month."""
    if value is None:
        return None
    try:
        return require_month(value)
    except DomainError as exc:
        raise click.BadParameter(str(exc)) from None


ANY_MONTH = click.option(
    "--month", default=None, callback=_any_month, help="YYYY-MM (default: every month)"
)


@statements_cli.command("check-rollup")
@ANY_MONTH
def check_rollup(month: str | None) -> None:
    """Prove the statements' rollups equal the visits (days) and lines (items); exit 1 if not."""
    differences = item_rollup_differences(month)
    for when, clinic_id, code, name, unit, rollup, lines in differences:
        click.echo(
            f"{when} clinic {clinic_id} {code} {name} ({unit}): rollup quantity/amount/lines "
            f"{rollup[0]}/{rollup[1]}/{rollup[2]}, lines {lines[0]}/{lines[1]}/{lines[2]}",
            err=True,
        )
    days = day_rollup_differences(month)
    for when, clinic_id, day, rollup, visits in days:
        changed = ", ".join(
            f"{name} {getattr(rollup, name)}/{getattr(visits, name)}"
            for name in FIGURE_FIELDS
            if getattr(rollup, name) != getattr(visits, name)
        )
        click.echo(f"{when} clinic {clinic_id} {day}: rollup/visits {changed}", err=True)
    if differences:
        click.echo(f"{len(differences)} item row(s) differ from their lines", err=True)
    if days:
        click.echo(f"{len(days)} day row(s) differ from their visits", err=True)
    if differences or days:
        raise click.exceptions.Exit(1)
    click.echo(
        f"{month or 'every month'}: the item rollup equals the non-voided lines, "
        "the day rollup the non-voided visits"
    )


@statements_cli.command("rebuild-rollups")
@ANY_MONTH
def rebuild_rollups_command(month: str | None) -> None:
    """Rebuild the day and item rollups from the visits (after check-rollup found a difference)."""
    days, items = rebuild_rollups(month, OPERATOR, clock()())
    click.echo(f"{month or 'every month'}: {days} day rows and {items} item rows rebuilt")


@oversight_cli.command("auto-submit")
@click.option("--district", "districts", multiple=True, help="district code (default: all)")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
def auto_submit_command(districts: tuple[str, ...], today: dt.datetime | None) -> None:
    """Submit last month's still-open statements of districts whose day D has come (daily cron)."""
    now = clock()()
    day = today.date() if today else local_date(now)
    for district in districts or all_districts():
        done = auto_submit(district, day, now)
        click.echo(f"{district}: {len(done)} submitted by the system {' '.join(done)}".rstrip())
