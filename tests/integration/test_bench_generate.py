"""``bench.generate`` makes a month the app would have made: its rows, rollups and counters.

On PostgreSQL the rows are written set-based into plain tables and attached as
the month's partitions, past the row triggers: here the triggers are made to
fire on every generated row and must accept them all.  Never a timing.
"""

from __future__ import annotations

import datetime as dt
import random

from flask import Flask
from sqlalchemy import text

from app.extensions import db
from app.settlement.figures import day_rollup_differences, item_rollup_differences
from bench.generate import (
    MONTH,
    _items,
    _rows,
    _templates,
    generate,
    verify,
)

IDENTITY = "SELECT count(*) FROM visit WHERE total <> patient + fund + fiscal"
DAY_IDENTITY = "SELECT count(*) FROM clinic_day WHERE total <> patient + fund + fiscal"


def test_a_generated_month_holds_the_invariants(app: Flask) -> None:
    generated = generate(db.engine, "tiny")
    assert generated.complete and generated.visits == 2_000
    assert generated.lines > generated.visits
    session = db.session()
    # What `flask statements check-rollup` proves, and the money identity per row.
    assert item_rollup_differences(MONTH) == []
    assert day_rollup_differences(MONTH) == []
    assert session.execute(text(IDENTITY)).scalar_one() == 0
    assert session.execute(text(DAY_IDENTITY)).scalar_one() == 0
    assert session.execute(text("SELECT count(*) FROM clinic_day")).scalar_one() > 0
    # Recording's other rows: one open statement per clinic, counters at the last receipt.
    statements = session.execute(
        text("SELECT count(*), min(status), max(status) FROM statement WHERE month = :m"),
        {"m": MONTH},
    ).one()
    clinics = session.execute(text("SELECT count(DISTINCT clinic_id) FROM visit")).scalar_one()
    assert tuple(statements) == (clinics, "open", "open")
    assert (
        session.execute(
            text(
                "SELECT count(*) FROM receipt_counter AS c WHERE c.last_seq <> "
                "(SELECT count(*) FROM visit AS v WHERE v.clinic_id = c.clinic_id)"
            )
        ).scalar_one()
        == 0
    )
    if db.engine.dialect.name == "postgresql":
        # Every visit and day row through the deferred constraint triggers recording
        # meets (lines sum to lines_total, the day row is its visits' GROUP BY).
        session.execute(text("UPDATE visit SET lines_total = lines_total"))
        session.execute(text("UPDATE clinic_day SET visits = visits"))
        session.commit()
        # The month is a partition of its own, with the parents' indexes.
        partitions = session.execute(
            text(
                "SELECT count(*) FROM pg_inherits WHERE inhrelid IN "
                "('visit_y2026m10'::regclass, 'visit_line_y2026m10'::regclass)"
            )
        ).scalar_one()
        assert partitions == 2
        indexes = session.execute(
            text("SELECT count(*) FROM pg_indexes WHERE tablename = 'visit_y2026m10'")
        ).scalar_one()
        assert indexes == 6
    assert verify(db.engine) == []


def test_verify_names_a_day_that_differs(app: Flask) -> None:
    generate(db.engine, "tiny")
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":  # past the day's check at commit
            conn.execute(text("SELECT set_config('yiyuan.rollup_rebuild', 'on', true)"))
        conn.execute(
            text(
                "UPDATE clinic_day SET total = total + 1, patient = patient + 1 "
                "WHERE visit_date = (SELECT min(visit_date) FROM clinic_day) "
                "AND clinic_id = (SELECT min(clinic_id) FROM clinic_day)"
            )
        )
    assert verify(db.engine) == ["1 clinic-day rows that differ from the GROUP BY of their visits"]


def test_both_databases_hold_the_rows_the_python_generator_makes(app: Flask) -> None:
    """PostgreSQL's set-based SQL and SQLite's Python rows are one definition."""
    generate(db.engine, "tiny")
    templates = _templates(random.Random(9), _items(80))
    clinics = [(n + 1, f"BC{n + 1:05d}") for n in range(198)]
    user = db.session.execute(text("SELECT id FROM user_account")).scalar_one()
    expected = list(_rows(templates, clinics, user, 0, 2_000, 2_000, {}, 1))
    visits = db.session.execute(
        text(
            "SELECT id, clinic_id, patient_id_number, visit_date, receipt_seq, receipt_number, "
            "injection, total, fund, fiscal, patient, voided_at IS NOT NULL FROM visit ORDER BY id"
        )
    ).all()
    lines = db.session.execute(
        text(
            "SELECT id, visit_id, line_no, item_code, quantity, amount FROM visit_line ORDER BY id"
        )
    ).all()
    # Positions in bench.generate.VISIT_COLUMNS of the columns read back.
    picked = (0, 1, 3, 5, 8, 9, 14, 26, 22, 23, 25)
    assert [(*(v[i] for i in picked), v[29] is not None) for v, _ in expected] == [
        (r[0], r[1], r[2], _date(r[3]), *r[4:]) for r in visits
    ]
    assert [(ln[0], ln[1], ln[3], ln[5], ln[10], ln[12]) for _, ls in expected for ln in ls] == [
        tuple(r) for r in lines
    ]


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
