"""``bench/exports.py`` at a tiny scale: every measurement runs and the streamed,
loaded-whole and heap-traced files are the same bytes.  Never a timing or size
assertion: the machine is shared."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.exports import HEADER, prepare, run


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_export_bench_runs_at_tiny_scale(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        server = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    else:
        server = os.environ.get("TEST_DATABASE_URL", "")
        if not server:
            pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
    name = f"yiyuan_bench_test_{uuid.uuid4().hex[:12]}"
    try:
        url = prepare(server, "tiny", reuse=False, database=name)
        line = run(url, "tiny", rounds=1)
    finally:
        if backend == "postgresql":
            admin = create_engine(
                make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
    # About 1 % of the generated visits are voided; the detail lists the others.
    assert 1_900 < line.visits < 2_000
    assert line.megabytes > 0 and line.streamed_s > 0 and line.limit_s > 0
    assert line.row().count("|") == HEADER.splitlines()[0].count("|")
