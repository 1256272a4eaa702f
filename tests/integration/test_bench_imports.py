"""``python -m bench.imports`` at a tiny size: every pass runs and does what it says.

Never a timing assertion: the machine is shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.imports import measure


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_bench_runs_at_tiny_size(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    else:
        url = os.environ.get("TEST_DATABASE_URL", "")
        if not url:
            pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
    result = measure(url, 1200)
    passes = result["passes"]
    assert result["dialect"] == backend
    assert "1200 added" in passes["added"]["outcome"]
    assert "1200 unchanged" in passes["unchanged"]["outcome"]
    assert "120 updated" in passes["updated"]["outcome"]
    assert passes["rejected"]["outcome"].startswith("rejected: residents-rejected.csv:1201: ")
    assert all(p["residents_after"] == 1200 for p in passes.values())
