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
    names = [r.what for r in report.results]
    assert len(names) == 7
    assert all(r.ours > 0 and r.limit > 0 for r in report.results)
    table = report.table()
    assert table.count("\n|") == 2 + len(names)
