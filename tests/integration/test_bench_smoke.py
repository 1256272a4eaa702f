"""``make bench`` at a tiny scale: the generator's rows pass every CHECK and each
measurement runs.  Never a timing assertion: the machine is shared."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.scale import run

ROLLUP = "SELECT COUNT(*), SUM(quantity), SUM(amount), SUM(lines) FROM clinic_month_item"
DAYS = (
    "SELECT COUNT(*), SUM(visits), SUM(injections), SUM(total), SUM(fund), SUM(fiscal), "
    "SUM(patient) FROM clinic_day"
)
VISITS = (
    "SELECT COUNT(DISTINCT clinic_id || '/' || visit_date), COUNT(*), "
    "SUM(CASE WHEN injection THEN 1 ELSE 0 END), SUM(total), SUM(fund), SUM(fiscal), "
    "SUM(patient) FROM visit WHERE voided_at IS NULL"
)
LINES = (
    "SELECT COUNT(DISTINCT v.clinic_id || '/' || l.item_code || '/' || l.item_name), "
    "SUM(l.quantity), SUM(l.amount), COUNT(*) "
    "FROM visit_line l JOIN visit v ON v.id = l.visit_id WHERE v.voided_at IS NULL"
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bench_runs_at_tiny_scale(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    else:
        url = os.environ.get("TEST_DATABASE_URL", "")
        if not url:
            pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
    name = f"yiyuan_bench_test_{uuid.uuid4().hex[:12]}"
    try:
        report = run(url, "tiny", rounds=2, pdfs=2, database=name)
        bench_url = url if backend == "sqlite" else make_url(url).set(database=name)
        engine = create_engine(bench_url)
        with engine.connect() as conn:
            # The generator filled the item rollup from the lines it copied.
            rollup = conn.execute(text(ROLLUP)).one()
            lines = conn.execute(text(LINES)).one()
            # … and the day rollup from the visits.
            days = conn.execute(text(DAYS)).one()
            visits = conn.execute(text(VISITS)).one()
        engine.dispose()
    finally:
        if backend == "postgresql":
            admin = create_engine(
                make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
    assert report.generated.complete and report.generated.visits == 2_000
    assert report.generated.lines > report.generated.visits
    assert rollup == lines and rollup[0] > 0
    assert days == visits and days[0] > 0
    names = [r.what for r in report.results]
    assert len(names) == 8
    assert all(r.ours > 0 and r.limit > 0 for r in report.results)
    table = report.table()
    assert table.count("\n|") == 2 + len(names)
