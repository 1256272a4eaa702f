"""The month close at scale (issue 9): set-based figures, parallel render, key purge.

On SQLite and PostgreSQL.  Nothing here times anything: ``bench/`` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app.extensions import db
from app.oversight.checks import screen
from app.places.models import Clinic
from app.settlement.queries import statement_view, statement_views
from app.visits.models import IdempotencyKey, Visit
from app.visits.operations import LineRequest, VisitRequest, record_visit, void_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world
from tests.integration.test_settlement import SEPT, record, user


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


@pytest.fixture
def september(world: World, clock: FixedClock) -> None:
    """Visits at both clinics over several days, one voided."""
    now = clock()
    day = dt.datetime(2026, 9, 10, 2, 0, tzinfo=dt.UTC)
    record(world, now)
    record(world, now, patient="insured_community", injection=False)
    record(world, now, at=day + dt.timedelta(days=11), lines=(("DX001", "1"), ("VC001", "10")))
    voided = record(world, now, at=day + dt.timedelta(days=12))
    void_visit(voided.id, "entered twice", user("doctor"), now)
    record(world, now, clinic="HD002", doctor="doctor2", at=day + dt.timedelta(days=3))


@contextmanager
def counted() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def clinics() -> list[Clinic]:
    return list(db.session.scalars(select(Clinic).order_by(Clinic.code)))


def test_statement_views_equal_one_view_per_clinic(app: Flask, september: None) -> None:
    everyone = clinics()
    together = statement_views(everyone, SEPT)
    assert [v.clinic.code for v in together] == [c.code for c in everyone]
    for view in together:
        alone = statement_view(view.clinic.code, SEPT, None)
        assert view == alone
        # The days printed add up to the statement.
        assert sum((f for _, f in view.days), type(view.figures)()) == view.figures
    hd001 = together[0]
    assert hd001.figures.visits == 3 and len(hd001.days) == 2
    assert {i.code for i in hd001.items} >= {"DX001", "VC001"}


def test_statement_views_take_the_same_queries_for_one_clinic_or_all(
    app: Flask, september: None
) -> None:
    everyone = clinics()
    assert len(everyone) >= 2
    with counted() as one:
        statement_views(everyone[:1], SEPT)
    with counted() as all_:
        statement_views(everyone, SEPT)
    # One batched query each, whatever the number of clinics: statements, their
    # history, adjustments, platform settlements (real-time adjustments), day rows,
    # item rows, the top diagnoses and the doctors.
    assert len(one) == len(all_) <= 8


def test_render_in_one_process_or_many_writes_the_same_pdfs(
    app: Flask, september: None, tmp_path: Path
) -> None:
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        result = app.test_cli_runner().invoke(
            args=[
                "statements", "render", "--district", "440114", "--month", SEPT,
                "--out", str(out), "--workers", workers, "--batch", "1",
            ]
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs[workers] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert outputs["1"] == outputs["2"]
    assert len(outputs["1"]) == 3


def _keyed_visit(world: World, key: str, at: dt.datetime) -> Visit:
    request = VisitRequest(
        clinic="HD001",
        patient_id_number=world.ids["insured_village"],
        injection=False,
        lines=(LineRequest("DX001", "1"),),
        visited_at=at,
    )
    visit, _ = record_visit(request, user("doctor"), at, idempotency_key=key, screen=screen)
    return visit


def test_idempotency_keys_are_purged_after_the_window(
    app: Flask, world: World, clock: FixedClock
) -> None:
    now = clock()
    _keyed_visit(world, "old", now - dt.timedelta(days=31))
    _keyed_visit(world, "edge", now - dt.timedelta(days=29))
    recent = _keyed_visit(world, "new", now)
    app.config["IDEMPOTENCY_KEY_DAYS"] = 30
    result = app.test_cli_runner().invoke(args=["visits", "purge-keys"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 " in result.output
    keys = set(db.session.scalars(select(IdempotencyKey.key)))
    assert keys == {"edge", "new"}
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 3
    # Within the window a retry still replays the first visit.
    assert _keyed_visit(world, "new", now).id == recent.id
    result = app.test_cli_runner().invoke(args=["visits", "purge-keys", "--days", "1"])
    assert "Deleted 1 " in result.output
    assert set(db.session.scalars(select(IdempotencyKey.key))) == {"new"}
