"""Property: a statement's figures equal the sums over its visits, to the fen (SPEC §5).

Generated visit sets — patients of every eligibility branch, random lines and
quantities, injections, voids — are recorded through ``record_visit`` and
``void_visit``; the live figures, the frozen figures after submit, the JSON,
the per-day rows and the per-item rows must all equal the per-visit sums.
Each example uses a month of its own, so examples never see each other's visits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.money import format_quantity
from app.settlement.figures import FIGURE_FIELDS, month_figures
from app.settlement.queries import previous_months, verify_statement
from app.visits.models import Visit, VisitLine
from app.visits.operations import void_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world
from tests.integration.test_settlement import as_json, per_visit_sums, record, user

PATIENTS = [
    "insured_village",
    "insured_community",
    "uninsured_village",
    "other_district",
    "expired_village",
    "unknown",
]
ITEMS = ["AMX01", "FFGC1", "HY001", "VC001", "ZS001", "MZ001", "BSJ01"]

line = st.tuples(st.sampled_from(ITEMS), st.integers(1, 30_000).map(format_quantity))
visit = st.fixed_dictionaries(
    {
        "patient": st.sampled_from(PATIENTS),
        "injection": st.booleans(),
        "consultation": st.booleans(),
        "lines": st.lists(line, max_size=4, unique_by=lambda x: x[0]),
        "day": st.integers(1, 28),
        "minute": st.integers(0, 23 * 60 + 59),
        "void": st.booleans(),
    }
)


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


@pytest.fixture
def months() -> Iterator[str]:
    # 2026-09 backwards: a fresh month per example (2025 and earlier: no policy,
    # so non-programme visits are generated too).
    return iter(previous_months("2026-09", 120)[::-1])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(visits=st.lists(visit, max_size=6))
def test_statement_figures_equal_per_visit_sums(
    client: FlaskClient,
    world: World,
    clock: FixedClock,
    months: Iterator[str],
    visits: list[dict[str, Any]],
) -> None:
    month = next(months)
    year, mon = (int(p) for p in month.split("-"))
    doctor = user("doctor")
    for v in visits:
        lines = (("DX001", "1"),) if v["consultation"] or not v["lines"] else ()
        at = dt.datetime(year, mon, v["day"], tzinfo=dt.UTC) - dt.timedelta(hours=8)
        recorded = record(
            world,
            clock(),
            patient=v["patient"],
            injection=v["injection"],
            lines=lines + tuple(v["lines"]),
            at=at + dt.timedelta(minutes=v["minute"]),
        )
        if v["void"]:
            void_visit(recorded.id, "generated", doctor, clock())
    sums = per_visit_sums(world.clinic.id, month)
    live = month_figures(world.clinic.id, month)
    assert {n: getattr(live, n) for n in FIGURE_FIELDS} == sums

    response = client.post(f"/api/v1/statements/HD001/{month}/submit", headers=world.auth("doctor"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["figures"] == as_json(sums)
    assert verify_statement("HD001", month).ok

    for name in FIGURE_FIELDS:  # the days add up to the month
        added = sum(int(str(d[name]).replace(".", "")) for d in body["days"])
        assert added == sums[name], name
    line_total = db.session.scalar(
        select(func.coalesce(func.sum(VisitLine.amount), 0))
        .join(Visit)
        .where(Visit.clinic_id == world.clinic.id, Visit.month == month, Visit.voided_at.is_(None))
    )
    db.session.rollback()
    assert sum(int(i["amount"].replace(".", "")) for i in body["items"]) == line_total
    assert sums["total"] == line_total + sums["registration"] + sums["injection"]
    assert sums["total"] == sums["patient"] + sums["fund"] + sums["fiscal"]
