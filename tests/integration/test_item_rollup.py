"""The clinic's month per item (issue 9): a rollup that equals the lines, always.

Recording a visit adds its lines to ``clinic_month_item`` and voiding it takes
them off, in the visit's own unit of work; the statement's item table reads
the rollup.  Here, on SQLite and PostgreSQL: after many visits and voids at
several clinics and months the rollup equals the ``GROUP BY`` over the
non-voided lines exactly, the statements print what the lines say, the
migration's backfill builds the same rows, and ``flask statements
check-rollup`` says so — or names the row that differs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text, update

from app.audit.operations import audit_table_digests
from app.catalog.models import CatalogItem
from app.database import unit_of_work
from app.extensions import db
from app.places.models import Clinic
from app.settlement.figures import ItemFigures, item_rollup_differences
from app.settlement.queries import statement_view, statement_views
from app.visits.models import ClinicMonthItem, Visit, VisitLine
from app.visits.operations import void_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world
from tests.integration.test_settlement import record, user

REVISION = "a8c4f2e61d93"  # migrations/versions/…_clinic_month_item.py
MIXES = (
    (("DX001", "1"), ("AMX01", "12"), ("FFGC1", "1"), ("HY001", "1")),
    (("DX001", "1"), ("VC001", "10")),
    # One item on two lines of a visit: one rollup row, two lines counted.
    (("DX001", "1"), ("AMX01", "6"), ("AMX01", "0.5")),
    (("ZS001", "1"), ("MZ001", "2"), ("BSJ01", "3")),
)
DOCTORS = {"HD001": "doctor", "HD002": "doctor2", "HD003": "doctor3"}


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


def lines_grouped() -> dict[tuple[Any, ...], tuple[int, int, int]]:
    """The truth: the non-voided lines summed per month, clinic and item as printed."""
    keys = (Visit.month, Visit.clinic_id, VisitLine.item_code, VisitLine.item_name, VisitLine.unit)
    rows = db.session.execute(
        select(*keys, func.sum(VisitLine.quantity), func.sum(VisitLine.amount), func.count())
        .join(Visit, Visit.id == VisitLine.visit_id)
        .where(Visit.voided_at.is_(None))
        .group_by(*keys)
    )
    return {tuple(r[:5]): (int(r[5]), int(r[6]), int(r[7])) for r in rows}


def rollup() -> dict[tuple[Any, ...], tuple[int, int, int]]:
    return {
        (r.month, r.clinic_id, r.item_code, r.item_name, r.unit): (r.quantity, r.amount, r.lines)
        for r in db.session.scalars(select(ClinicMonthItem))
    }


def assert_rollup_is_the_lines() -> None:
    db.session.rollback()
    shown = {key: sums for key, sums in rollup().items() if sums[2] > 0}
    emptied = {key: sums for key, sums in rollup().items() if sums[2] == 0}
    assert shown == lines_grouped()
    assert set(emptied.values()) <= {(0, 0, 0)}
    assert item_rollup_differences() == []


def items_from_lines(clinic_id: int, month: str) -> list[ItemFigures]:
    """What the statement printed before the rollup: the lines joined to their visits."""
    rows = db.session.execute(
        select(
            VisitLine.item_code,
            func.min(VisitLine.item_name),
            func.min(VisitLine.unit),
            func.sum(VisitLine.quantity),
            func.sum(VisitLine.amount),
        )
        .join(Visit, Visit.id == VisitLine.visit_id)
        .where(Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None))
        .group_by(VisitLine.item_code)
        .order_by(VisitLine.item_code)
    )
    return [ItemFigures(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


@pytest.fixture
def many(world: World, clock: FixedClock) -> list[Visit]:
    return forty_visits(world, clock())


def forty_visits(world: World, now: dt.datetime) -> list[Visit]:
    """Forty visits at three clinics over September and October; every third voided."""
    start = dt.datetime(2026, 9, 1, 2, 0, tzinfo=dt.UTC)
    visits = []
    for n in range(40):
        clinic = ("HD001", "HD002", "HD003")[n % 3]
        at = start + dt.timedelta(days=n + n % 4, hours=n % 5)
        if n == 20:  # the catalogue renames an item: its code prints once, min() of the names
            with unit_of_work() as session:
                session.execute(
                    update(CatalogItem).where(CatalogItem.code == "VC001").values(name="维C片")
                )
                # As an import would: the catalogue's new digest goes on the chain.
                audit_table_digests(session, "cli", ("catalog_item",), None)
        mix = MIXES[n % len(MIXES)]
        doctor = DOCTORS[clinic]
        injection = n % 2 == 0
        visit = record(
            world, now, clinic=clinic, doctor=doctor, at=at, lines=mix, injection=injection
        )
        visits.append(visit)
    for visit in visits[::3]:
        doctor = DOCTORS[db.session.get(Clinic, visit.clinic_id).code]  # type: ignore[union-attr]
        void_visit(visit.id, "entered twice", user(doctor), now)
    return visits


def test_the_rollup_equals_the_lines_after_visits_and_voids(app: Flask, many: list[Visit]) -> None:
    assert_rollup_is_the_lines()
    # Some rows were emptied by voids (their item's every line voided) or split by the rename.
    keys = rollup()
    assert any(sums[2] == 0 for sums in keys.values())
    assert len({key[4] for key in keys if key[2] == "VC001"}) == 1  # same unit
    assert len({key[3] for key in keys if key[2] == "VC001"}) == 2  # two names


def test_the_statements_print_the_items_the_lines_give(app: Flask, many: list[Visit]) -> None:
    everyone = list(db.session.scalars(select(Clinic).order_by(Clinic.code)))
    for month in ("2026-09", "2026-10"):
        for view in statement_views(everyone, month):
            assert view.items == items_from_lines(view.clinic.id, month)
            assert view.items == statement_view(view.clinic.code, month, None).items
    renamed = [i for v in statement_views(everyone, "2026-10") for i in v.items]
    assert {i.name for i in renamed if i.code == "VC001"} <= {"维C片"}  # min("维C片", "维生素C片")


def test_the_migration_backfills_the_rollup_from_the_lines(app: Flask, many: list[Visit]) -> None:
    before = rollup()
    db.session.remove()
    downgrade(revision=f"{REVISION}-1")
    upgrade(revision=REVISION)
    upgrade()
    # The backfill has no emptied rows: only what the lines have.
    assert rollup() == {key: sums for key, sums in before.items() if sums[2] > 0}
    assert_rollup_is_the_lines()


def test_check_rollup_passes_then_names_the_row_that_differs(app: Flask, many: list[Visit]) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["statements", "check-rollup"])
    assert ok.exit_code == 0, ok.output
    assert "equals" in ok.output
    ok = runner.invoke(args=["statements", "check-rollup", "--month", "2026-09"])
    assert ok.exit_code == 0, ok.output
    bad_month = runner.invoke(args=["statements", "check-rollup", "--month", "2026-13"])
    assert bad_month.exit_code == 2 and "month" in bad_month.output

    # Written outside the app: one fen more on one row.
    db.session.execute(
        text(
            "UPDATE clinic_month_item SET amount = amount + 1 "
            "WHERE month = '2026-09' AND item_code = 'DX001' AND lines > 0"
        )
    )
    db.session.commit()
    bad = runner.invoke(args=["statements", "check-rollup", "--month", "2026-09"])
    assert bad.exit_code == 1
    assert "DX001" in bad.output and "differ" in bad.output
    assert runner.invoke(args=["statements", "check-rollup", "--month", "2026-10"]).exit_code == 0
