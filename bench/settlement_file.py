"""The fund's monthly settlement file at a city's scale, against COPY plus one join.

``python -m bench.settlement_file`` (``--rows 100000 1000000``, ``--rounds 3``,
``--url`` a PostgreSQL server; default ``BENCH_DATABASE_URL`` or the local
server; ``--reuse`` keeps databases an earlier run prepared) prepares, per
size, a database ``filescale_<rows>`` holding that many visits in one month
(the shapes of :mod:`bench.generate`: 198 clinics of one district, 2026-10,
copied without their lines), gives the clinics insurance codes and the visits
valid ID numbers of 100,000 people, and writes two UTF-8 CSV files in a temporary directory:

* ``good`` — one settlement row per visit that was not voided, keyed by the
  receipt number (the clinic's own number in ``mdtrt_id``), every thousandth
  paying one fen less than computed (a difference and an adjustment);
* ``bad``  — the same rows, each with one bad value (``medfee_sumamt`` not an
  amount): the import must refuse it, list a bounded number of problems and
  write nothing.

Then, in interleaved rounds (sizes and passes alternating, so other load on the
machine falls on all of them alike), each pass in its own child process whose
peak resident set size is read from ``wait4`` (C allocations included):

* ``baseline`` — psycopg streams the file into a fresh table with ``COPY …
  FORMAT csv`` and runs one join of it to the visits (count and sum of the
  differences): the least a database can do with the file;
* ``import``   — ``flask reconcile import --preview``: the app's whole import
  (read, validate, stage, check, match, book, audit), rolled back at its end so
  every round imports the same file afresh;
* ``refuse``   — ``flask reconcile import`` of the bad file.

Afterwards the good file is imported once for real (committed) and the bad
file's refusal is checked to have written nothing.  Databases are left for
inspection unless ``--drop``.  Figures go to ``docs/benchmarks.md`` by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.generate import MONTH
from bench.scale import _database, _load

PASSES = ("baseline", "refuse", "import")
SCALE_OF = {100_000: "district", 1_000_000: "city"}
HEADER = (
    "fixmedins_code,setl_id,mdtrt_id,certno,setl_time,medfee_sumamt,inscp_scp_amt,"
    "act_pay_dedc,hifp_pay,fund_pay_sumamt,psn_cash_pay\n"
)
_BASELINE_TABLE = """
CREATE TABLE raw_settlement (
    fixmedins_code text, setl_id text, mdtrt_id text, certno text, setl_time timestamp,
    medfee_sumamt numeric, inscp_scp_amt numeric, act_pay_dedc numeric, hifp_pay numeric,
    fund_pay_sumamt numeric, psn_cash_pay numeric)
"""
_BASELINE_JOIN = """
SELECT count(*), coalesce(sum(v.fund - (r.fund_pay_sumamt * 100)::bigint), 0)
FROM raw_settlement r
JOIN clinic c ON c.insurance_code = r.fixmedins_code
JOIN visit v ON v.clinic_id = c.id AND v.receipt_number = r.mdtrt_id AND v.month = %s
"""


@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)


def _visits(engine: Engine, rows: int) -> None:
    """``rows`` visits of one month, COPY'd without their lines (matching reads none).

    The shapes are :mod:`bench.generate`'s (its clinics, templates, receipts and
    voids), each visit's patient a valid ID number (100,000 people); loaded with
    the triggers off (``session_replication_role = replica``): the checks that
    a visit's lines and the day rollups add up have nothing to add up here.
    """
    import random

    from app.people.rules import make_id_number
    from app.visits.partitions import ensure_month
    from bench.generate import (
        CHUNK,
        VISIT_COLUMNS,
        _copy_text,
        _items,
        _reference_data,
        _rows,
        _templates,
    )

    rng = random.Random(9)
    clinics, _, user_id = _reference_data(engine, 198)
    templates = _templates(rng, _items(80))
    ensure_month(engine, MONTH)
    people = [
        make_id_number("440114", dt.date(1950, 1, 1) + dt.timedelta(days=p // 1000), p % 1000)
        for p in range(100_000)
    ]
    seqs: dict[int, int] = {}
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for start in range(0, rows, CHUNK):
            count = min(CHUNK, rows - start)
            batch = [
                (*v[:3], people[v[0] % len(people)], *v[4:])
                for v, _ in _rows(rng, templates, clinics, user_id, start, count, rows, seqs, 1)
            ]
            with cursor.copy(f"COPY visit ({VISIT_COLUMNS}) FROM STDIN") as copy:
                copy.write(_copy_text(batch))
        conn.execute(text("SELECT setval('visit_id_seq', (SELECT max(id) FROM visit))"))
        conn.execute(text("UPDATE clinic SET insurance_code = 'H' || lpad(id::text, 8, '0')"))


def prepare(url: str, rows: int, reuse: bool) -> str:
    """The database of ``rows`` visits (made unless ``reuse`` finds it ready)."""
    from flask_migrate import upgrade

    from app.extensions import db
    from app.factory import create_app

    name = f"filescale_{rows}"
    if reuse:
        ready = _database(url, name, fresh=False)
        try:
            with create_engine(ready).connect() as conn:
                ready_rows = conn.scalar(
                    text(
                        "SELECT count(*) FROM visit WHERE NOT EXISTS "
                        "(SELECT 1 FROM clinic WHERE insurance_code IS NULL)"
                    )
                )
                if ready_rows == rows:
                    return ready
        except Exception:  # not there yet: prepare it
            pass
    target = _database(url, name)
    app = create_app({"SQLALCHEMY_DATABASE_URI": target})
    with app.app_context():
        upgrade()
        _visits(db.engine, rows)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE visit"))
        db.engine.dispose()
    return target


def write_files(url: str, folder: Path) -> tuple[Path, Path, str]:
    """The good and the bad settlement file of every visit not voided, and the district."""
    good, bad = folder / "good.csv", folder / "bad.csv"
    engine = create_engine(url)
    with engine.connect() as conn, good.open("w") as g, bad.open("w") as b:
        district = conn.scalar(text("SELECT min(code) FROM district"))
        g.write(HEADER)
        b.write(HEADER)
        rows = conn.execution_options(yield_per=20_000).execute(
            text(
                "SELECT v.id, c.insurance_code, v.receipt_number, v.patient_id_number, "
                "v.visited_at, v.lines_total, v.in_scope, v.deductible_applied, v.fund "
                "FROM visit v JOIN clinic c ON c.id = v.clinic_id "
                "WHERE v.voided_at IS NULL ORDER BY v.id"
            )
        )
        for visit_id, code, receipt, certno, at, total, scope, deductible, fund in rows:
            paid = fund - 1 if visit_id % 1000 == 0 and fund > 0 else fund
            local = (at + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
            tail = (
                f"{_yuan(scope or 0)},{_yuan(deductible)},{_yuan(paid)},{_yuan(paid)},"
                f"{_yuan(total - paid)}\n"
            )
            head = f"{code},S{visit_id:09d},{receipt},{certno},{local},"
            g.write(head + _yuan(total) + "," + tail)
            b.write(head + "12.3.4," + tail)  # one bad value per row
    engine.dispose()
    return good, bad, str(district)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB) of the child alone, its exit code and its stderr's tail."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    return seconds, usage.ru_maxrss / 1024, child.returncode, tail


def baseline_child(url: str, path: str) -> None:
    """COPY the file into a fresh table and join it once to the visits (run in a child)."""
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS raw_settlement")
        cur.execute(_BASELINE_TABLE)
        with (
            open(path, "rb") as source,
            cur.copy("COPY raw_settlement FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        cur.execute(_BASELINE_JOIN, (MONTH,))
        count, difference = cur.fetchone() or (0, 0)
        print(count, difference)
        conn.rollback()  # the table goes with the transaction: each round starts afresh


def run_pass(kind: str, url: str, good: Path, bad: Path, district: str) -> tuple[float, float]:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app.factory"}
    flask = str(Path(sys.executable).with_name("flask"))
    if kind == "baseline":
        argv = [sys.executable, "-m", "bench.settlement_file", "--baseline-child", url, str(good)]
        expect = 0
    elif kind == "import":
        argv = [flask, "reconcile", "import", str(good), "--district", district,
                "--month", MONTH, "--preview"]  # fmt: skip
        expect = 0
    else:
        argv = [flask, "reconcile", "import", str(bad), "--district", district,
                "--month", MONTH]  # fmt: skip
        expect = 1
    seconds, peak, code, tail = _timed(argv, env)
    if code != expect:
        raise SystemExit(f"{kind} exited {code}, expected {expect}:\n{tail}")
    if kind == "refuse":
        lines = tail.strip().splitlines()
        assert lines[-1].endswith("nothing imported"), lines[-3:]
        assert len(lines) < 100, f"{len(lines)} problem lines: the report is not bounded"
    return seconds, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--drop", action="store_true")
    parser.add_argument(
        "--commit-up-to", type=int, default=100_000, help="import for real files this small"
    )
    parser.add_argument("--prepare-only", action="store_true", help="databases only; no timing")
    parser.add_argument("--baseline-child", nargs=2, metavar=("URL", "FILE"))
    args = parser.parse_args(argv)
    # The month's generation and a city's import are batch work, not a request.
    os.environ.setdefault("DB_STATEMENT_TIMEOUT", "3600")
    if args.baseline_child:
        baseline_child(*args.baseline_child)
        return
    folder = Path(tempfile.mkdtemp(prefix="filescale-"))
    sizes = {}
    for rows in args.rows:
        started = time.perf_counter()
        url = prepare(args.url, rows, args.reuse)
        (folder / str(rows)).mkdir()
        good, bad, district = write_files(url, folder / str(rows))
        lines = sum(1 for _ in good.open()) - 1
        print(f"{rows}: {lines} settlement rows ({good.stat().st_size / 1e6:.0f} MB) "
              f"ready in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        sizes[rows] = (url, good, bad, district, lines)
    if args.prepare_only:
        return
    samples = {(rows, kind): Sample() for rows in sizes for kind in PASSES}
    loads = [_load()]
    for round_ in range(args.rounds):
        for rows, (url, good, bad, district, _) in sizes.items():
            for kind in PASSES:
                seconds, peak = run_pass(kind, url, good, bad, district)
                samples[(rows, kind)].seconds.append(seconds)
                samples[(rows, kind)].peak_mb.append(peak)
                print(f"round {round_ + 1} {rows} {kind}: {seconds:.1f} s, {peak:.0f} MB",
                      flush=True)  # fmt: skip
        loads.append(_load())
    print(f"\nload averages (before, after each round): {' | '.join(loads)}")
    print("| file rows | pass | median s | min s | peak RSS MB (max) | ratio to baseline |")
    print("|---|---|---|---|---|---|")
    for rows, (_, _, _, _, lines) in sizes.items():
        base = statistics.median(samples[(rows, "baseline")].seconds)
        for kind in PASSES:
            s = samples[(rows, kind)]
            median = statistics.median(s.seconds)
            print(f"| {lines:,} | {kind} | {median:.1f} | {min(s.seconds):.1f} | "
                  f"{max(s.peak_mb):.0f} | {median / base:.1f}× |")  # fmt: skip
    for rows, (url, good, bad, district, _) in sizes.items():
        if rows > args.commit_up_to:
            continue
        seconds, peak = _committed(url, good, bad, district)
        print(f"{rows}: committed import {seconds:.1f} s, {peak:.0f} MB; refusal wrote nothing")
        if args.drop:
            admin = create_engine(
                make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))
            admin.dispose()


def _committed(url: str, good: Path, bad: Path, district: str) -> tuple[float, float]:
    """The good file imported for real, then the bad one refused: nothing more written."""
    engine = create_engine(url)
    count = "SELECT (SELECT count(*) FROM fund_settlement), (SELECT count(*) FROM fund_file)"
    with engine.connect() as conn:
        before = tuple(conn.execute(text(count)).one())
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app.factory"}
    flask = str(Path(sys.executable).with_name("flask"))
    seconds, peak, code, tail = _timed(
        [flask, "reconcile", "import", str(good), "--district", district, "--month", MONTH], env
    )
    if code != 0:
        raise SystemExit(f"committed import exited {code}:\n{tail}")
    with engine.connect() as conn:
        imported = tuple(conn.execute(text(count)).one())
    run_pass("refuse", url, good, bad, district)
    with engine.connect() as conn:
        after = tuple(conn.execute(text(count)).one())
    engine.dispose()
    assert imported[1] == before[1] + 1 and after == imported, (before, imported, after)
    return seconds, peak


if __name__ == "__main__":
    main()
