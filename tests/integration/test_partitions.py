"""Visits and lines partitioned by month on PostgreSQL (issue 9 §3); the (id, month) keys on both.

On PostgreSQL: a visit and its lines land in their month's partition; recording
into a month that has none makes it first; ``flask visits partitions`` makes
them ahead and is idempotent; an old month is detached and dropped without
touching the others.  On both databases: a line (or any row pointing at a
visit) needs a visit of that id *and* month, and the migration to the
partitioned tables and back keeps every row and the ids counting on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.oversight.checks import screen
from app.oversight.models import ReceiptCode
from app.oversight.operations import receipt_code_for
from app.visits.models import IdempotencyKey, Visit, VisitLine
from app.visits.operations import LineRequest, VisitRequest, record_visit
from app.visits.partitions import add_months, ensure_month, months_through, partition_name
from tests.conftest import FixedClock
from tests.factories import build_world
from tests.integration.test_settlement import WORKED, record, user

PREVIOUS = "c5e7d9a1b3f2"  # the head before migrations/versions/d8f1a3c5e7b9_…
SEPTEMBER = dt.datetime(2026, 9, 10, 2, 0, tzinfo=dt.UTC)
OCTOBER = dt.datetime(2026, 10, 12, 2, 0, tzinfo=dt.UTC)
# Each table pointing at a visit, and its column holding the visit's month.
POINTERS = {
    "idempotency_key": "visit_month", "receipt_code": "visit_month",
    "receipt_feedback": "visit_month", "visit_check": "visit_month",
    "review_item": "visit_month", "statement_adjustment": "belongs_to",
    "fund_finding": "visit_month", "visit_disowned": "visit_month",
    "dispensed_pack": "visit_month",
}  # fmt: skip


def where(table: str, ids: list[int]) -> dict[int, str]:
    """The partition each row of ``table`` is stored in, by id."""
    rows = db.session.execute(
        text(f"SELECT id, tableoid::regclass::text FROM {table} WHERE id = ANY(:ids)"),
        {"ids": ids},
    )
    return {row[0]: row[1] for row in rows}


def exists(name: str) -> bool:
    return db.session.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is not None


def worked_visit(id_number: str, at: dt.datetime) -> VisitRequest:
    """The worked example's lines for ``id_number`` at HD001, at ``at``."""
    return VisitRequest(
        clinic="HD001",
        patient_id_number=id_number,
        injection=False,
        lines=tuple(LineRequest(item, qty) for item, qty in WORKED),
        visited_at=at,
    )


def test_month_arithmetic() -> None:
    assert partition_name("visit_line", "2026-11") == "visit_line_y2026m11"
    assert add_months("2026-11", 2) == "2027-01" and add_months("2026-01", -1) == "2025-12"
    assert months_through("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]
    with pytest.raises(ValueError):
        partition_name("visit", "2026-13")


@pytest.mark.one_database("postgresql")
def test_visits_and_lines_land_in_their_months_partition(app: Flask, clock: FixedClock) -> None:
    world = build_world(clock())
    september, october = record(world, clock(), at=SEPTEMBER), record(world, clock(), at=OCTOBER)
    db.session.remove()
    assert where("visit", [september.id, october.id]) == {
        september.id: "visit_y2026m09",
        october.id: "visit_y2026m10",
    }
    lines = db.session.execute(select(VisitLine.id, VisitLine.visit_id, VisitLine.month)).all()
    assert {line.month for line in lines if line.visit_id == september.id} == {"2026-09"}
    stored = where("visit_line", [line.id for line in lines])
    for line in lines:
        assert stored[line.id] == partition_name("visit_line", line.month)
    # Only the month's partition is read for a month's visits.
    plan = db.session.scalars(
        text("EXPLAIN SELECT count(*) FROM visit WHERE month = '2026-09'")
    ).all()
    assert any("visit_y2026m09" in step for step in plan)
    assert not any("visit_y2026m10" in step for step in plan)


@pytest.mark.one_database("postgresql")
def test_the_checks_on_partitioned_tables_use_generic_plans(app: Flask, clock: FixedClock) -> None:
    """The server's own queries on the partitioned tables are not re-planned on each call.

    A custom plan prunes partitions while planning and so looks cheaper than a
    generic one, which PostgreSQL then never picks: the lines-total trigger and
    the foreign-key checks of a recorded visit would be planned afresh every
    time.  The trigger's function runs with generic plans; recording sets them
    for its own transaction only (the foreign-key checks are the server's).
    """
    world = build_world(clock())
    config = db.session.scalar(
        text("SELECT proconfig FROM pg_proc WHERE proname = 'check_visit_lines_total'")
    )
    assert config == ["plan_cache_mode=force_generic_plan"]
    seen: list[str] = []

    def during_write(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("WITH new_visit"):
            seen.append(cursor.connection.execute("SHOW plan_cache_mode").fetchone()[0])

    event.listen(db.engine, "after_cursor_execute", during_write)
    try:
        record(world, clock(), at=OCTOBER)
    finally:
        event.remove(db.engine, "after_cursor_execute", during_write)
    assert seen == ["force_generic_plan"]
    assert db.session.scalar(text("SHOW plan_cache_mode")) == "auto"  # that transaction's only


@pytest.mark.one_database("postgresql")
def test_recording_into_a_month_without_a_partition_makes_it(app: Flask, clock: FixedClock) -> None:
    world = build_world(clock())
    march = dt.datetime(2026, 3, 16, 2, 0, tzinfo=dt.UTC)
    assert not exists("visit_y2026m03") and not exists("visit_line_y2026m03")
    request = worked_visit(world.ids["insured_village"], march)
    visit, created = record_visit(
        request, user("doctor"), clock(), idempotency_key="march-1", screen=screen
    )
    assert created and visit.month == "2026-03"
    db.session.remove()
    assert exists("visit_y2026m03") and exists("visit_line_y2026m03")
    assert where("visit", [visit.id]) == {visit.id: "visit_y2026m03"}
    # The key points at (id, month); a retry finds the first visit.
    again, created = record_visit(
        request, user("doctor"), clock(), idempotency_key="march-1", screen=screen
    )
    assert not created and again.id == visit.id
    key = db.session.scalars(select(IdempotencyKey)).one()
    assert (key.visit_id, key.visit_month) == (visit.id, "2026-03")


@pytest.mark.one_database("postgresql")
def test_the_command_makes_the_months_ahead_once(app: Flask, clock: FixedClock) -> None:
    world = build_world(clock())
    record(world, clock(), at=SEPTEMBER)
    # The migration already made the real current month and the next two, so
    # which of the wanted months are new depends on the day the test runs.
    wanted = months_through("2026-09", "2027-02")
    missing = [m for m in wanted if not exists(partition_name("visit", m))]
    later = months_through("2027-03", "2030-12")
    beyond = [m for m in later if not exists(partition_name("visit", m))]
    runner = app.test_cli_runner()
    first = runner.invoke(args=["visits", "partitions", "--ahead", "4"])
    assert first.exit_code == 0, first.output
    # From the oldest visit (September) through four months after October.
    for month in wanted:
        assert exists(partition_name("visit", month)), month
        assert exists(partition_name("visit_line", month)), month
    for month in wanted:
        made = f"made {partition_name('visit', month)}\n" in first.output
        assert made == (month in missing), (month, first.output)
    assert "made visit_y2026m09" not in first.output  # it was there already
    again = runner.invoke(args=["visits", "partitions", "--ahead", "4"])
    assert again.exit_code == 0 and "0 partitions made" in again.output, again.output
    assert not any(exists(partition_name("visit", m)) for m in beyond)


@pytest.mark.one_database("sqlite")
def test_the_command_has_nothing_to_do_on_sqlite(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["visits", "partitions"])
    assert result.exit_code == 0 and "nothing to do" in result.output


@pytest.mark.one_database("postgresql")
def test_an_old_month_is_detached_and_dropped_alone(app: Flask, clock: FixedClock) -> None:
    world = build_world(clock())
    old = [record(world, clock(), at=SEPTEMBER) for _ in range(2)]
    kept = [record(world, clock(), at=OCTOBER) for _ in range(3)]
    receipt_code_for(kept[0].id, clock())
    db.session.remove()
    kept_lines = db.session.scalar(
        select(func.count()).select_from(VisitLine).where(VisitLine.month == "2026-10")
    )
    db.session.remove()  # its reads' locks would hold up the DDL
    with db.engine.begin() as conn:
        # What points at the month's visits goes first (archived, in real life).
        for table, column in POINTERS.items():
            conn.execute(text(f"DELETE FROM {table} WHERE {column} = '2026-09'"))
        for table in ("visit_line", "visit"):
            name = partition_name(table, "2026-09")
            conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
            conn.execute(text(f"DROP TABLE {name}"))
    assert db.session.scalars(select(Visit.id).order_by(Visit.id)).all() == [v.id for v in kept]
    assert db.session.scalar(select(func.count()).select_from(VisitLine)) == kept_lines
    assert not any(db.session.get(Visit, v.id) for v in old)
    assert db.session.scalars(select(ReceiptCode.visit_month)).all() == ["2026-10"]
    # October still records.
    assert record(world, clock(), at=OCTOBER).month == "2026-10"


def test_a_row_needs_a_visit_of_that_id_and_month(app: Flask, clock: FixedClock) -> None:
    world = build_world(clock())
    visit = record(world, clock(), at=OCTOBER)
    # PostgreSQL: a wrong month is refused by the key, not for want of a partition.
    ensure_month(db.engine, "2026-09")
    line = db.session.scalars(select(VisitLine).where(VisitLine.visit_id == visit.id)).first()
    assert line is not None
    values = {
        c.name: getattr(line, c.key) for c in VisitLine.__table__.columns if c.name != "id"
    } | {"line_no": 99, "amount": 0, "in_scope": 0, "self_pay": 0, "unit_price": 0}
    db.session.remove()
    for wrong in ({"visit_id": visit.id + 1000}, {"month": "2026-09"}):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert(VisitLine), values | wrong)
    for wrong_month in ("2026-09", None):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(
                insert(ReceiptCode),
                {
                    "visit_id": visit.id,
                    "visit_month": wrong_month,
                    "code": "X",
                    "created_at": OCTOBER,
                },
            )


def _counts() -> dict[str, int]:
    tables = ("visit", "visit_line", "idempotency_key", "receipt_code", "visit_check")
    return {t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in tables}


def test_the_migration_keeps_every_row_and_the_ids_count_on(app: Flask, clock: FixedClock) -> None:
    world = build_world(clock())
    visits = [record(world, clock(), at=at) for at in (SEPTEMBER, OCTOBER, OCTOBER)]
    keyed = worked_visit(world.ids["insured_village"], SEPTEMBER)
    visits.append(
        record_visit(keyed, user("doctor"), clock(), idempotency_key="k-1", screen=screen)[0]
    )
    receipt_code_for(visits[0].id, clock())
    db.session.remove()
    before = _counts()
    lines_before = db.session.execute(
        select(VisitLine.id, VisitLine.visit_id, VisitLine.amount).order_by(VisitLine.id)
    ).all()
    top_line = lines_before[-1].id
    db.session.remove()

    downgrade(revision=PREVIOUS)
    db.session.remove()
    assert _counts() == before
    assert db.session.execute(
        text("SELECT id, visit_id, amount FROM visit_line ORDER BY id")
    ).all() == [tuple(row) for row in lines_before]
    db.session.remove()

    upgrade()
    db.session.remove()
    assert _counts() == before
    months = {v.id: v.month for v in visits}
    for line in db.session.scalars(select(VisitLine)):
        assert line.month == months[line.visit_id]
    key = db.session.scalars(select(IdempotencyKey)).one()
    code = db.session.scalars(select(ReceiptCode)).one()
    assert (key.visit_month, code.visit_month) == ("2026-09", "2026-09")
    # The ids carry on from where they were, and the retried key still answers.
    after = record(world, clock(), at=OCTOBER)
    assert after.id > max(months)
    first_line = select(func.min(VisitLine.id)).where(VisitLine.visit_id == after.id)
    assert db.session.scalar(first_line) > top_line
    again, created = record_visit(
        keyed, user("doctor"), clock(), idempotency_key="k-1", screen=screen
    )
    assert not created and again.id == visits[-1].id
