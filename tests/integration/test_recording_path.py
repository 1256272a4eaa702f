"""The recording path's cost, bounded (issue 9 §2): statements per visit, no lazy loads.

A bound, not a timing: a listener counts every statement the driver is handed
while one visit is recorded and its API answer built, on SQLite and
PostgreSQL, and a session listener fails on any lazy or deferred load (an
ORM attribute fetched behind the code's back is one more round trip per
visit).  The answer is built from what was written, so nothing is read back.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.orm import ORMExecuteState, Session

from app.auth.models import User
from app.extensions import db
from app.localtime import month_of
from app.oversight.checks import screen
from app.visits.operations import LineRequest, VisitRequest, record_visit, void_visit
from app.visits.partitions import ensure_month
from app.visits.schemas import VisitSchema, visit_answer
from bench import recording
from tests.conftest import FixedClock
from tests.factories import World, build_world

# Every statement a recorded visit costs, the audit entry's included (issue 9 §2: ≤ 10
# on PostgreSQL).  PostgreSQL: the facts with the lines' prices; the month lock, the
# fund-usage upsert, the receipt counter and the visit's id in one; ONE data-modifying
# WITH for the visit, its lines, the idempotency key, the fund-usage update, the lines
# added to the clinic's month per item, the figures to the clinic's day, the audit
# entry and its chain head.  SQLite has no INSERT inside WITH: the month lock, usage
# and counter are one statement each, and so are the writes (visit, lines in one
# executemany, the item sums in one executemany upsert, the day's upsert, key, usage
# update; the audit entry, then its head), after its BEGIN IMMEDIATE (not counted).
# Exact, so a statement added to the path is a decision, not a drift.
STATEMENTS = {"postgresql": 3, "sqlite": 12}

LINES = (
    LineRequest("DX001", "1"),
    LineRequest("AMX01", "12"),
    LineRequest("FFGC1", "1"),
    LineRequest("HY001", "1"),
)


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


def _doctor() -> User:
    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None
    return doctor


def _request(world: World, minutes_ago: int, label: str = "insured_village") -> VisitRequest:
    at = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return VisitRequest("HD001", world.ids[label], True, LINES, at)


def _table_of(statement: str) -> str:
    """The table a statement writes (INSERT INTO, UPDATE) or reads first (FROM)."""
    words = statement.split()
    for keyword in ("INTO", "UPDATE", "FROM"):
        if keyword in words[:-1]:
            return words[words.index(keyword) + 1].strip('"')
    return ""


@contextmanager
def counted() -> Iterator[list[str]]:
    """Every statement handed to the driver inside the block (BEGIN excluded)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


@contextmanager
def no_lazy_loads() -> Iterator[list[str]]:
    """Collect every lazy relationship load or deferred/expired column load."""
    loads: list[str] = []

    def on_execute(state: ORMExecuteState) -> None:
        if state.is_relationship_load or state.is_column_load:
            loads.append(str(state.statement)[:120])

    event.listen(Session, "do_orm_execute", on_execute)
    try:
        yield loads
    finally:
        event.remove(Session, "do_orm_execute", on_execute)


def _bound() -> int:
    return STATEMENTS[db.engine.dialect.name]


@pytest.mark.parametrize("label", ["insured_village", "unknown"])
def test_a_recorded_visit_takes_a_bounded_number_of_statements(
    app: Flask, world: World, label: str
) -> None:
    doctor = _doctor()
    record_visit(
        _request(world, 60, label), doctor, _now(), screen=screen
    )  # month, year and counter rows exist
    doctor = _doctor()  # as a request would have it: freshly authenticated
    with counted() as statements, no_lazy_loads() as loads:
        visit, created = record_visit(
            _request(world, 30, label), doctor, _now(), "bounded-1", screen=screen
        )
        answer = _answer(visit)
    assert created and answer["receipt_number"] == "HD001-2026-000002"
    assert loads == []
    expected = _bound()
    if label == "unknown" and db.engine.dialect.name == "sqlite":
        expected -= 2  # no person in the register: no year row to upsert, none to update
    assert len(statements) == expected, "\n".join(statements)
    # Nothing recorded is read back to build the answer.
    assert not any(s.startswith("SELECT") and _table_of(s) == "visit" for s in statements)


def test_the_first_visit_of_a_month_and_year_creates_its_rows_in_few_statements(
    app: Flask, world: World
) -> None:
    doctor = _doctor()
    # PostgreSQL: the month's partitions made ahead, as `flask visits partitions` does
    # (made on demand instead, once per month: tests/integration/test_partitions.py).
    ensure_month(db.engine, month_of(_now()))
    with counted() as statements, no_lazy_loads() as loads:
        visit, _ = record_visit(_request(world, 30), doctor, _now(), "first", screen=screen)
        _answer(visit)
    assert loads == []
    # The statement row of the month is created on first use (two more statements),
    # and the clinic's audit chain head on the clinic's first entry (on PostgreSQL the
    # entry folded into the write finds no head: three more, once per clinic).
    assert len(statements) <= _bound() + 5, "\n".join(statements)


def test_an_api_request_costs_its_token_lookup_and_the_recording(
    app: Flask, world: World, client: FlaskClient
) -> None:
    """Over the API: one statement authenticates (the user joined to the token), none lazily."""
    body = {
        "clinic": "HD001",
        "patient_id_number": world.ids["insured_village"],
        "injection": True,
        "lines": [{"item": line.item, "quantity": line.quantity} for line in LINES],
        "visited_at": "2026-10-15T09:30:00+08:00",
    }
    headers = {**world.auth("doctor"), "Idempotency-Key": "api-1"}
    first = client.post("/api/v1/visits", json=body, headers=headers)  # rows of month and year
    assert first.status_code == 201, first.get_json()
    db.session.close()  # a request in production starts with an empty session
    with counted() as statements, no_lazy_loads() as loads:
        answer = client.post(
            "/api/v1/visits", json=body, headers={**headers, "Idempotency-Key": "api-2"}
        )
    assert answer.status_code == 201, answer.get_json()
    assert loads == []
    assert _table_of(statements[0]) == "api_token"
    assert len(statements) == 1 + _bound(), "\n".join(statements)


def test_the_write_is_within_what_psycopg_caches() -> None:
    """psycopg parses a statement's placeholders once per process only if it is at most
    4,096 characters with at most 50 parameters; the recording's write is sent per visit."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    from app.visits.operations import _pg_write

    for with_key in (True, False):
        for with_usage in (True, False):
            compiled = _pg_write(with_key, with_usage).compile(dialect=dialect())
            assert len(str(compiled).encode()) <= MAX_CACHED_STATEMENT_LENGTH
            assert len(compiled.params) <= MAX_CACHED_STATEMENT_PARAMS


def test_the_answer_is_what_was_stored(app: Flask, world: World) -> None:
    visit, _ = record_visit(_request(world, 30), _doctor(), _now(), "stored", screen=screen)
    answer = _answer(visit)
    db.session.expire_all()
    db.session.close()
    assert _answer(db.session.get_one(type(visit), visit.id)) == answer


def test_a_replay_answers_the_first_visit_and_writes_nothing(app: Flask, world: World) -> None:
    request = _request(world, 30)
    first, created = record_visit(request, _doctor(), _now(), "again", screen=screen)
    again, created_again = record_visit(request, _doctor(), _now(), "again", screen=screen)
    assert created and not created_again
    assert _answer(again) == _answer(first)
    # The refused retry gave its receipt number back: the next visit is gapless.
    third, _ = record_visit(_request(world, 20), _doctor(), _now(), "third", screen=screen)
    assert third.receipt_number == "HD001-2026-000002"


def test_the_api_answer_is_the_schemas_dump_for_every_kind_of_visit(
    app: Flask, world: World
) -> None:
    """``visit_answer`` (the 201's body, built directly) equals what VisitSchema documents."""
    from app.checks.rules import Rule, Severity
    from tests.integration.test_checks import THRESHOLDS, configure, item_columns

    item_columns("AMX01", max_per_visit=10000)  # 12 capsules: fires the quantity check
    configure(Severity.WARN, Rule.QUANTITY_OVER_MAX, **THRESHOLDS)
    visits = []
    for minutes, label in enumerate(world.ids, start=1):  # insured, uninsured, unknown, …
        request = replace(_request(world, minutes, label), warning_reason="外出务工")
        visits.append(record_visit(request, _doctor(), _now(), f"kind-{label}", screen=screen)[0])
    voided = void_visit(visits[0].id, "录错了", _doctor(), _now())
    assert any(visit.checks for visit in visits)
    assert any(not visit.programme for visit in visits)
    for visit in [*visits, voided]:
        assert visit_answer(visit) == VisitSchema().dump(visit)
    db.session.expire_all()
    for visit in [*visits, voided]:
        stored = db.session.get_one(type(visit), visit.id)
        assert visit_answer(stored) == VisitSchema().dump(stored)


def _now() -> dt.datetime:
    return dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)


def test_the_http_benchmark_runs() -> None:
    """Smoke only, no timing asserted: the gunicorn benchmark, 0.3 s per measurement."""
    server = os.environ.get("TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        pytest.skip("the HTTP benchmark runs on PostgreSQL (TEST_DATABASE_URL)")
    name = f"bench_recording_{uuid.uuid4().hex[:8]}"
    try:
        results = recording.run(server, seconds=0.3, rounds=1, echo=lambda _: None, database=name)
    finally:
        recording._database(server, name, create=False)
    # Every request that finished was answered 201 / 200 (run() fails otherwise); on a
    # busy machine a 0.3 s measurement may finish none, so no rate is asserted.
    assert set(results) == set(recording.CONCURRENCY)
    assert all(
        r["visits_per_s"] >= 0
        and r["bare_per_s"] >= 0
        and r["floor_per_s"] >= 0
        and r["checked_per_s"] >= 0
        for r in results.values()
    )


def test_the_in_process_benchmark_runs() -> None:
    """Smoke only, no timing asserted: the three sides through the WSGI app in process."""
    server = os.environ.get("TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        pytest.skip("the in-process benchmark reads PostgreSQL's statistics (TEST_DATABASE_URL)")
    name = f"bench_wsgi_{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    results = recording.in_process(server, requests=6, rounds=1, echo=lines.append, database=name)
    assert set(results) == {"bare", "commit", "record"}
    # A visit makes the server work (its statements and the commit); the bare request
    # only reads the token.
    assert results["record"]["server"] > results["bare"]["server"] >= 0
    assert all(r["wall"] > 0 and r["cpu"] > 0 for r in results.values())
    assert lines[-1].startswith("a ratio of 0.6 allows a visit")
    engine = create_engine(server)
    try:
        with engine.connect() as conn:  # the bench database is dropped after
            assert not conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
    finally:
        engine.dispose()


def _answer(visit: Any) -> dict[str, Any]:
    """The API's answer for a visit (its response schema)."""
    answer: dict[str, Any] = VisitSchema().dump(visit)
    return answer
