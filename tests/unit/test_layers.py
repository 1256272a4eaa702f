"""Imports flow one way, and the pure modules stay pure when they run.

The import contracts live in ``pyproject.toml`` (``[tool.importlinter]``):
packages import downwards only, an area's web/CLI modules import its
operations, which import its queries, models and rules in that order; rules and
reports import neither Flask nor SQLAlchemy; only the web and CLI layers read
the clock.  Every area is one whole package in that order, with no
exception carved into it, and the areas' import graph has no cycle at all
(checked here too, naming the cycle).  Another test proves the purity at run
time: importing a rules module (or ``reports``) in a fresh interpreter loads
neither framework.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import grimp
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


def _area(module: str) -> str:
    """``app.visits.pages.receipt`` → ``app.visits``: the package the module belongs to."""
    return ".".join(module.split(".")[:2])


def area_graph() -> dict[tuple[str, str], tuple[str, str, int]]:
    """Every area-to-area import of ``app``, with one import that makes it (module, module, line).

    The same edges as grimp's graph with every area squashed into one node.
    """
    graph = grimp.build_graph("app", cache_dir=None)
    edges: dict[tuple[str, str], tuple[str, str, int]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            edge = (_area(importer), _area(imported))
            if edge[0] != edge[1] and edge not in edges:
                details = graph.get_import_details(importer=importer, imported=imported)
                line = details[0]["line_number"] if details else 0
                edges[edge] = (importer, imported, line)
    return edges


def find_cycle(edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle of the directed graph as its nodes (the first repeated at the end), or None."""
    succ: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        succ.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in succ.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(succ):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_find_cycle_names_a_cycle() -> None:
    assert find_cycle([("a", "b"), ("b", "c")]) is None
    assert find_cycle([("a", "b"), ("b", "c"), ("c", "b")]) == ["b", "c", "b"]


def test_the_areas_import_one_another_without_a_cycle() -> None:
    edges = area_graph()
    assert ("app.visits", "app.policy") in edges  # the graph is the real one
    cycle = find_cycle(edges)
    if cycle is not None:
        steps = [
            f"{a} -> {b} ({edges[a, b][0]} imports {edges[a, b][1]}, line {edges[a, b][2]})"
            for a, b in itertools.pairwise(cycle)
        ]
        pytest.fail("the areas import in a cycle:\n" + "\n".join(steps))


def test_every_area_is_whole_in_the_package_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert not [c["id"] for c in contracts if "ignore_imports" in c]
    (packages,) = [c for c in contracts if c["id"] == "packages"]
    listed = [name.strip() for layer in packages["layers"] for name in re.split(r"[|:]", layer)]
    assert len(listed) == len(set(listed))
    areas = {f"app.{path.stem}" for path in (ROOT / "app").glob("*.py")} | {
        f"app.{path.parent.name}" for path in (ROOT / "app").glob("*/__init__.py")
    }
    areas.discard("app.__init__")
    assert set(listed) - {"reports"} == areas  # every area, each whole (no app.x.y)


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
