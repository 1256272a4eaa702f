"""The resident register imported at scale: wall time and peak memory per size.

``python -m bench.imports`` (``--rows 100000 1000000``, ``--url`` a PostgreSQL
server; default ``BENCH_DATABASE_URL`` or the local server) runs every size in
its own child process, so each peak resident set size is that size's alone.
A child creates a fresh database, migrates it, imports 50 villages, then times
four passes over a generated residents.csv:

* ``added``     — every row new;
* ``unchanged`` — the same file again (idempotent: nothing is written);
* ``updated``   — every tenth row's name changed;
* ``rejected``  — the same file with its last row bad: nothing may be written.

Peak memory is ``ru_maxrss`` after each pass (the process's high-water mark,
C allocations included) and, with ``--tracemalloc``, the Python heap's peak
during each pass.  The file is generated deterministically in a temporary
directory (valid GB 11643 numbers from :func:`app.people.rules.make_id_number`);
the database is dropped at the end.  Tests call :func:`measure` on SQLite at a
tiny size and never look at a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app.people.rules import make_id_number

HEADER = "id_number,name,hukou_village_code,insurance_type,insured_from,insured_to\n"
DISTRICT = "440114"
VILLAGES = [f"{DISTRICT}{101 + t:03d}{201 + v:03d}" for t in range(5) for v in range(10)]
FIRST_BIRTH = dt.date(1940, 1, 1)
INSURANCE = ("resident,2016-01-01,", "employee,2020-01-01,2026-12-31", "none,,")
PASSES = ("added", "unchanged", "updated", "rejected")


def write_villages(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("code,name,kind,town_code,town_name,district_code,district_name\n")
        for code in VILLAGES:
            out.write(f"{code},村{code[-5:]},village,{code[:9]},镇{code[6:9]},{DISTRICT},花都区\n")


def write_residents(path: Path, rows: int, variant: str = "added") -> None:
    """``rows`` residents, each with a distinct valid number (1,000 per birth date).

    ``updated``: every tenth name differs; ``rejected``: the last row's
    insurance type is not one the schema knows.
    """
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        out.write(HEADER)
        for n in range(rows):
            number = make_id_number(DISTRICT, FIRST_BIRTH + dt.timedelta(days=n // 1000), n % 1000)
            name = f"居民{n}" + ("改" if variant == "updated" and n % 10 == 0 else "")
            insurance = INSURANCE[n % 3]
            if variant == "rejected" and n == rows - 1:
                insurance = "rural,,"
            out.write(f"{number},{name},{VILLAGES[n % len(VILLAGES)]},{insurance}\n")


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _database(url: str, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh database ``name`` on the server of ``url``, and how to drop it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url, lambda: None
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), drop


def measure(
    url: str, rows: int, *, passes: tuple[str, ...] = PASSES, trace: bool = False
) -> dict[str, Any]:
    """Every pass at ``rows`` rows in this process: seconds, summary, peak memory."""
    from flask_migrate import upgrade

    from app.extensions import db
    from app.factory import create_app
    from app.imports.operations import ImportRejected, import_file
    from app.people.models import Resident

    result: dict[str, Any] = {"rows": rows, "passes": {}}
    url, drop = _database(url, f"yiyuan_bench_imports_{uuid.uuid4().hex[:8]}")
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        with tempfile.TemporaryDirectory() as tmp, app.app_context():
            result["dialect"] = db.engine.dialect.name
            upgrade()
            villages = Path(tmp) / "villages.csv"
            write_villages(villages)
            import_file("villages", villages)
            result["baseline_maxrss_mb"] = round(_maxrss_mb(), 1)
            for name in passes:
                path = Path(tmp) / f"residents-{name}.csv"
                start = time.perf_counter()
                write_residents(path, rows, "added" if name == "unchanged" else name)
                generated = time.perf_counter() - start
                if trace:
                    tracemalloc.start()
                start = time.perf_counter()
                try:
                    outcome = str(import_file("residents", path, source=path.name))
                except ImportRejected as exc:
                    outcome = f"rejected: {exc.lines()[-1]}"
                seconds = time.perf_counter() - start
                heap = tracemalloc.get_traced_memory()[1] / 1e6 if trace else None
                tracemalloc.stop()
                db.session.rollback()
                count = db.session.scalar(select(func.count()).select_from(Resident))
                db.session.rollback()
                result["passes"][name] = {
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(rows / seconds),
                    "maxrss_mb": round(_maxrss_mb(), 1),
                    "tracemalloc_peak_mb": round(heap, 1) if heap is not None else None,
                    "file_mb": round(path.stat().st_size / 1e6, 1),
                    "generate_s": round(generated, 1),
                    "residents_after": count,
                    "outcome": outcome,
                }
                path.unlink()
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
    return result


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--passes", nargs="+", default=list(PASSES), choices=PASSES)
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python heap peak")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        (rows,) = args.rows
        result = measure(args.url, rows, passes=tuple(args.passes), trace=args.tracemalloc)
        print(json.dumps(result))
        return
    for rows in args.rows:
        load = _load()
        command = [sys.executable, "-m", "bench.imports", "--child", "--rows", str(rows)]
        command += ["--url", args.url, "--passes", *args.passes]
        command += ["--tracemalloc"] if args.tracemalloc else []
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        result = json.loads(child.stdout.splitlines()[-1])
        print(f"## {rows:,} rows on {result['dialect']} (load {load} → {_load()}), "
              f"baseline maxrss {result['baseline_maxrss_mb']} MB")  # fmt: skip
        for name, p in result["passes"].items():
            heap = f", heap peak {p['tracemalloc_peak_mb']} MB" if p["tracemalloc_peak_mb"] else ""
            print(
                f"{name:>9}: {p['seconds']:8.1f} s  {p['rows_per_s']:>7,} rows/s  "
                f"maxrss {p['maxrss_mb']} MB{heap}  ({p['file_mb']} MB file; "
                f"{p['residents_after']:,} residents after) {p['outcome']}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
