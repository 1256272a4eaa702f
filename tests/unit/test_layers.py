"""Imports flow one way, and the pure modules stay pure when they run.

The import contracts live in ``pyproject.toml`` (``[tool.importlinter]``):
packages import downwards only, an area's web/CLI modules import its
operations, which import its queries, models and rules in that order; rules and
reports import neither Flask nor SQLAlchemy; only the web and CLI layers read
the clock.  The second test proves the purity at run time: importing a rules
module (or ``reports``) in a fresh interpreter loads neither framework.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("flask", "flask_sqlalchemy", "sqlalchemy")

# Pure at run time: every area's rules, the money and field helpers, the PDF reports.
PURE = sorted(
    [
        *(f"app.{path.parent.name}.rules" for path in (ROOT / "app").glob("*/rules.py")),
        "app.ledger",
        "app.money",
        "app.fields",
        "app.errors",
        "app.localtime",
        "app.glossary",
        "reports",
        *(f"reports.{path.stem}" for path in (ROOT / "reports").glob("[!_]*.py")),
    ]
)

CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))
if loaded:
    sys.exit(f"{sys.argv[1]} loads {', '.join(loaded)}")
"""


def test_import_contracts_hold() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_pure_modules_are_found() -> None:
    assert {"app.visits.rules", "app.settlement.rules", "app.policy.rules"} <= set(PURE)
    assert "reports.statement" in PURE


def test_pure_modules_load_no_framework_at_run_time() -> None:
    # One fresh interpreter per module (started together), so a module is
    # judged by what it loads itself, not by what an earlier import loaded.
    runs = {
        module: subprocess.Popen(
            [sys.executable, "-c", CHECK, module, *FRAMEWORKS],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": ""},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for module in PURE
    }
    failures = []
    for module, run in runs.items():
        output, _ = run.communicate(timeout=120)
        if run.returncode != 0:
            failures.append(f"{module}: {output.strip()}")
    if failures:
        pytest.fail("\n".join(failures))
