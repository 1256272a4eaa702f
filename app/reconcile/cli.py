"""``flask reconcile …``: import the fund's settlement detail, report, simulate the platform."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.clock import clock
from app.errors import DomainError
from app.money import format_yuan
from app.reconcile.files import SettlementFileRejected
from app.reconcile.operations import import_settlement_file
from app.reconcile.platform import (
    Disagreements,
    SimulatedPlatform,
    platform_from_config,
    settlement_csv,
)
from app.reconcile.queries import insurance_codes, platform_visits, reconciliation

reconcile_cli = AppGroup("reconcile", help="Reconciliation with the insurance fund's settlements.")


@reconcile_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--district", required=True, help="6-digit district code")
@click.option("--month", required=True, help="YYYY-MM the file settles")
@click.option("--preview", is_flag=True, help="show what it would change; write nothing")
def import_command(file: Path, district: str, month: str, preview: bool) -> None:
    """Import FILE (CSV or XLSX, UTF-8 or GBK) and reconcile the month; all or nothing."""
    try:
        with file.open("rb") as stream:  # read as a stream: a city's month is a million rows
            result = import_settlement_file(
                stream, str(file), district, month, None, clock()(), preview=preview
            )
    except SettlementFileRejected as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        raise click.ClickException(f"{file}: nothing imported") from None
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if result.already_imported:
        click.echo(f"{file}: already imported for {district} {month}; nothing changed")
        return
    click.echo(
        f"{file}: {result.rows} rows ({result.skipped_rows} already known); "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
    )
    if result.preview:
        click.echo("PREVIEW: nothing was written")
        for change in sorted(result.clinics.values(), key=lambda c: c.clinic):
            click.echo(
                f"  {change.clinic} {change.name}: {change.findings} findings, "
                f"{change.differing} differing, {change.adjustments} adjustments "
                f"{format_yuan(change.adjustment_total)} yuan"
            )
    click.echo(
        f"adjustments {'that would be ' if result.preview else ''}booked: {result.adjustments}, "
        f"backstop change {format_yuan(result.adjustment_total)} yuan"
    )


@reconcile_cli.command("fetch")
@click.option("--district", required=True, help="6-digit district code")
@click.option("--month", required=True, help="YYYY-MM to fetch and reconcile")
def fetch_command(district: str, month: str) -> None:
    """Download the month's settlement detail from INSURANCE_PLATFORM and import it.

    The platform is configuration: ``simulator`` (the local simulator, which
    settles the month's recorded visits as it sees them) or
    ``package.module:Class``, an adapter implementing
    :class:`app.reconcile.platform.InsurancePlatform` for a real connection.
    """
    name = current_app.config.get("INSURANCE_PLATFORM", "simulator")
    try:
        platform = platform_from_config(name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise click.ClickException(f"INSURANCE_PLATFORM={name!r}: {exc}") from None
    if isinstance(platform, SimulatedPlatform):
        platform.run_month(platform_visits(district, month), month)
    rows = platform.settlement_detail(insurance_codes(district), month)
    data = settlement_csv(rows)
    try:
        result = import_settlement_file(
            data, f"{name} {district} {month}.csv", district, month, None, clock()()
        )
    except SettlementFileRejected as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        raise click.ClickException("the platform's detail was refused; nothing imported") from None
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if result.already_imported:
        click.echo(f"{name}: the same detail was already imported; nothing changed")
        return
    click.echo(
        f"{name}: {result.rows} settlements for {district} {month}; "
        f"{result.adjustments} adjustments, "
        f"backstop change {format_yuan(result.adjustment_total)} yuan"
    )


@reconcile_cli.command("report")
@click.option("--district", required=True)
@click.option("--month", required=True)
def report_command(district: str, month: str) -> None:
    """Print a district-month's reconciliation: outcomes, clinics, the biggest differences."""
    report = reconciliation(district, month)
    if not report.files:
        raise click.ClickException(f"no settlement file imported for {district} {month}")
    for line in report.outcomes:
        click.echo(
            f"{line.outcome:<12} {line.reason:<24} {line.count:>7}  computed "
            f"{format_yuan(line.fund_computed):>12}  paid {format_yuan(line.fund_paid):>12}"
        )
    for c in report.clinics:
        click.echo(
            f"{c.clinic:<10} backstop {format_yuan(c.fiscal):>10} → "
            f"{format_yuan(c.reconciled_fiscal):>10}  ({c.differing} differing)"
        )
    click.echo(f"effect on the backstop: {format_yuan(report.backstop_effect)} yuan")


@reconcile_cli.command("simulate")
@click.option("--district", required=True)
@click.option("--month", required=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--encoding", type=click.Choice(["utf-8", "gbk"]), default="utf-8")
@click.option("--lapsed", default=0, show_default=True)
@click.option("--price", default=0, show_default=True)
@click.option("--rejected", default=0, show_default=True)
@click.option("--reversed", "reversed_", default=0, show_default=True)
@click.option("--duplicate", default=0, show_default=True)
@click.option("--unknown", default=0, show_default=True)
@click.option("--seed", default=2016, show_default=True)
def simulate_command(
    district: str,
    month: str,
    out: Path,
    encoding: str,
    lapsed: int,
    price: int,
    rejected: int,
    reversed_: int,
    duplicate: int,
    unknown: int,
    seed: int,
) -> None:
    """Settle the month on the simulated platform and write its settlement detail to OUT."""
    if current_app.config.get("INSURANCE_PLATFORM", "simulator") != "simulator":
        raise click.ClickException("INSURANCE_PLATFORM is a real platform; nothing to simulate")
    platform = SimulatedPlatform(
        Disagreements(lapsed, price, rejected, reversed_, duplicate, unknown, seed)
    )
    rows = platform.run_month(platform_visits(district, month), month)
    out.write_bytes(settlement_csv(rows, encoding))
    click.echo(f"{out}: {len(rows)} settlement rows for {district} {month}")


@reconcile_cli.command("daily")
@click.option("--day", default="", help="YYYY-MM-DD to check (default: yesterday)")
def daily_command(day: str) -> None:
    """Check a day with the platform (3201; where it differs 3202) and list the differences."""
    from app.insurance.client import gateway_from_config
    from app.localtime import local_date
    from app.reconcile.operations import run_daily

    gateway = gateway_from_config(current_app.config)
    if gateway is None:
        raise click.ClickException("INSURANCE_GATEWAY_URL is not set: no platform to check with")
    try:
        when = dt.date.fromisoformat(day) if day else local_date(clock()()) - dt.timedelta(days=1)
    except ValueError:
        raise click.ClickException(f"--day: {day!r} is not a date such as 2026-10-15") from None
    result = run_daily(when, gateway, clock())
    for clinic, insutype, verdict in result.checked:
        click.echo(f"{when} {clinic} {insutype}: {'agreed' if verdict == '0' else 'differs'}")
    click.echo(f"{when}: {result.differences} new differences")
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} checks could not be made")
