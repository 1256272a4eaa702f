"""``flask demo seed``: a demo district with three months of visits (see :mod:`app.demo.seed`)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.clock import clock
from app.database import without_waiting_for_the_disk
from app.demo.seed import (
    PASSWORD,
    SeedOptions,
    database_is_empty,
    identity_violations,
    sample_patients,
    seed_demo,
)
from app.errors import DomainError
from app.extensions import db
from app.imports.operations import ImportRejected
from app.publishing.operations import PolicyRefused, PolicyRejected

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="do nothing when a district already exists")
@click.option("--residents", default=3000, show_default=True, type=click.IntRange(1, 200_000))
@click.option(
    "--days",
    type=click.IntRange(1, 400),
    help="visits for the last N days (default: the two months before this one, and this one)",
)
@click.option("--seed", "seed", default=20160101, show_default=True, help="random seed")
def seed_command(if_empty: bool, residents: int, days: int | None, seed: int) -> None:
    """Load the Huadu demo district: places, clinics, catalogue, people, policy, users, visits."""
    if not database_is_empty():
        if if_empty:
            click.echo("demo seed: the database already has a district; nothing to do")
            return
        click.echo("demo seed: the database is not empty; seed a fresh one", err=True)
        raise SystemExit(1)
    options = SeedOptions(residents=residents, days=days, seed=seed)
    try:
        # A few thousand visits, each its own unit of work: without a flush to
        # disk at every commit the seed takes seconds rather than minutes.
        with without_waiting_for_the_disk(db.engine):
            report = seed_demo(options, clock()(), echo=click.echo)
    except (ImportRejected, PolicyRejected, PolicyRefused) as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        raise SystemExit(1) from None
    except DomainError as exc:
        click.echo(f"demo seed: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"visits: {report.visits} recorded ({report.voided} voided, "
        f"{report.blocked} refused by a check) "
        f"from {report.first_day} to {report.last_day}; "
        f"{identity_violations()} break total = patient + fund + fiscal"
    )
    click.echo("patients to try at HD0101 (flask demo patients --clinic CODE for others):")
    for sample in sample_patients("HD0101"):
        click.echo(f"  {sample.id_number}  {sample.name}  {sample.case}")
    click.echo(f"users (password {PASSWORD}):")
    for username, role, scope in report.users:
        click.echo(f"  {username:<16} {role:<9} {scope}")


@demo_cli.command("platform")
def platform_command() -> None:
    """Load the platform simulator from the demo and settle this month's recent visits."""
    from flask import current_app

    from app.demo.platform import load_platform
    from app.insurance.client import gateway_from_config

    gateway = gateway_from_config(current_app.config)
    if gateway is None:
        click.echo("demo platform: no INSURANCE_GATEWAY_URL; nothing to do")
        return
    load_platform(gateway, clock(), click.echo)


@demo_cli.command("patients")
@click.option("--clinic", "clinic_code", default="HD0101", show_default=True)
def patients_command(clinic_code: str) -> None:
    """Registered people to try at a clinic, one per eligibility case (full ID numbers)."""
    samples = sample_patients(clinic_code)
    if not samples:
        click.echo(f"demo patients: no clinic {clinic_code!r} or no residents", err=True)
        raise SystemExit(1)
    for sample in samples:
        click.echo(f"{sample.id_number}  {sample.name}  {sample.village}  {sample.case}")
