"""Recording a visit over HTTP against a bare endpoint and the same-content floor.

``python -m bench.recording`` (``make bench`` runs it too) drops and creates the
database ``yiyuan_bench_recording`` on the PostgreSQL server named by
``BENCH_DATABASE_URL``, migrates it, adds 32 clinics with a doctor and an API
token each and 20,000 insured residents, then starts the production server
(``gunicorn -c gunicorn.conf.py``: workers and threads as ``make run`` sizes
them) on loopback with this module's app: the real app plus bench-only
endpoints.  ``POST /api/v1/bench/bare`` authenticates the bearer token exactly
as the visits API does, reads the JSON body and answers a small JSON object:
the framework, the token check and the connection pool, with no recording.

Four sides are measured over HTTP (issue 22), interleaved:

* ``bare``: the bare endpoint;
* ``floor``: the **same-content floor** (:mod:`bench.floor`): a plain psycopg
  client, no HTTP, writing exactly the rows one recorded visit writes in the
  same transaction shape (the statement lock, fund usage, receipt counter,
  visit, four lines, item and day rollups, idempotency key, the sealed audit
  entry, one durable commit).  Before measuring, :func:`verify_floor` records
  64 visits through the app and 64 through the floor and compares the rows
  each wrote, table by table (PostgreSQL's own counters); a difference stops
  the run;
* ``record``: ``POST /api/v1/visits`` with the policy's checks at recording off;
* ``checked``: the same with the demo policy's checks on (``demo/policy.toml``;
  the bench's policy version is changed in place before each measurement).

Clients (threads, one keep-alive connection each; client *n* is the doctor of
clinic *n mod 32*, so concurrent clients record at different clinics as a
district's doctors do; each clinic sees its patients in turn, never one twice,
since the demo's checks refuse a second visit at a clinic on a day) post for
``BENCH_SECONDS`` (default 5) per measurement, at 1, 8 and 32 clients, in
``ROUNDS`` (default 3) interleaved rounds whose order alternates.  Printed per
concurrency: the median rate of each side over the rounds, p50/p99 latency,
and the ratios (visits / floor, checked / visits).  Every recorded visit
carries an ``Idempotency-Key``, four lines and a warning reason (used only when
a check warns); every answer is checked (201 for a visit, 200 for the bare
endpoint), so an error cannot pass for speed.  ``POST /api/v1/bench/commit``
(the bare endpoint plus one durable one-row commit, the floor of issue 9) is
kept for ``--in-process``.  Nothing here is run by the tests with timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import logging
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from flask import Blueprint, Flask, jsonify, request
from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from bench import floor
from bench.floor import conninfo
from bench.timing import for_a_while

ROOT = Path(__file__).resolve().parents[1]
# The three sides, each measured against the others: the limit, the floor, the work.
SIDES = {
    "bare": "/api/v1/bench/bare",
    "commit": "/api/v1/bench/commit",
    "record": "/api/v1/visits",
}
# Over HTTP (issue 22): the bare endpoint, the same-content floor (bench.floor, no
# HTTP), a recorded visit with the policy's checks off, and with the demo's checks on.
HTTP_SIDES = ("bare", "floor", "record", "checked")
CLINICS = 32
# Enough that no clinic sees a patient twice in a day during a run: with the demo's
# checks on, a second visit at one clinic on one day is refused (split_visit).
RESIDENTS = 20_000
CONCURRENCY = (1, 8, 32)
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "yiyuan_bench_recording"
LINES = [
    {"item": "DX001", "quantity": "1"},
    {"item": "AMX01", "quantity": "12"},
    {"item": "FFGC1", "quantity": "1"},
    {"item": "HY001", "quantity": "1"},
]
# Sent with every visit: with the demo's checks on, a visit they warn about (more than
# four visits of a person in seven days, say) is recorded with it; otherwise ignored.
WARNING_REASON = "复诊"


# --- the server's app: the real one plus the bare endpoint -----------------------------


def bench_app(overrides: dict[str, Any] | None = None) -> Flask:
    """gunicorn's entry point: :func:`app.factory.create_app` and the bare endpoint."""
    from app.auth.api_auth import api_user, authenticate_bearer
    from app.extensions import csrf
    from app.factory import create_app

    app = create_app(overrides)
    bare = Blueprint("bench_bare", __name__, url_prefix="/api/v1/bench")
    bare.before_request(authenticate_bearer)

    @bare.post("/bare")
    def _bare() -> Any:
        body = request.get_json()
        return jsonify(user=api_user().username, lines=len(body.get("lines", ())))

    @bare.post("/commit")
    def _commit() -> Any:
        from app.database import unit_of_work

        body = request.get_json()
        # The same unit of work as recording: it joins the token lookup's transaction
        # and keeps the user loaded, so this side makes no query the recording does not.
        with unit_of_work(expire=False, join_reads=True) as session:
            session.execute(
                text("INSERT INTO bench_commit (lines) VALUES (:lines)"),
                {"lines": len(body.get("lines", ()))},
            )
        return jsonify(user=api_user().username, lines=len(body.get("lines", ())))

    csrf.exempt(bare)
    app.register_blueprint(bare)
    return app


# --- the database ------------------------------------------------------------------------


def _database(server_url: str, name: str, *, create: bool = True) -> str:
    """Drop (and create) the bench database ``name``; its URL."""
    url = make_url(server_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        if create:
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Bench:
    """What :func:`prepare` made: a token per clinic, the residents, the demo's checks."""

    tokens: list[str]
    residents: list[tuple[int, str]]  # (id, ID number)
    checks: str  # the demo policy's oversight settings, as policy_version.oversight holds them

    @property
    def usernames(self) -> list[str]:
        return [f"bench{n}" for n in range(CLINICS)]


class Patients:
    """Each clinic's patients in turn: no clinic sees one twice in a run of fewer than
    ``RESIDENTS`` visits (the demo's checks refuse a second visit at a clinic on a day)."""

    def __init__(self, residents: list[tuple[int, str]]) -> None:
        self.residents = residents
        self.turns = [itertools.count() for _ in range(CLINICS)]

    def next(self, clinic: int) -> tuple[int, str]:
        # 7 is prime to RESIDENTS, so k -> 7k + offset (mod RESIDENTS) is one-to-one.
        turn = next(self.turns[clinic])  # atomic under the GIL: threads share a clinic
        return self.residents[(turn * 7 + clinic * 613) % len(self.residents)]


def prepare(url: str) -> Bench:
    """Migrate and fill the database: one token per clinic, the residents, the demo's checks."""
    from flask_migrate import upgrade

    from app.auth.operations import create_user, issue_token
    from app.extensions import db
    from app.factory import create_app
    from app.people.models import Resident
    from app.people.rules import make_id_number
    from app.places.models import Clinic
    from app.policy.models import PolicyVersion
    from app.publishing.operations import read_policy_file
    from tests.factories import build_world

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        upgrade()
        build_world(now)
        db.session.execute(
            insert(Clinic),
            [
                {
                    "code": f"BX{n:03d}",
                    "name": f"测试卫生站{n}",
                    "village_code": "440114100201",
                    "joined_on": dt.date(2016, 1, 1),
                }
                for n in range(CLINICS)
            ],
        )
        ids = [
            make_id_number("440114", dt.date(1950, 1, 1) + dt.timedelta(days=n), n % 1000)
            for n in range(RESIDENTS)
        ]
        db.session.execute(
            insert(Resident),
            [
                {
                    "id_number": number,
                    "name": "测试",
                    "sex": "M" if int(number[16]) % 2 else "F",
                    "birth_date": dt.date(1950, 1, 1) + dt.timedelta(days=n),
                    "hukou_village_code": "440114100201",
                    "insurance_type": "resident",
                    "insured_from": dt.date(2026, 1, 1),
                }
                for n, number in enumerate(ids)
            ],
        )
        # The commit floor's table (bench-only; the bench database is dropped after).
        db.session.execute(text("CREATE TABLE bench_commit (id bigserial PRIMARY KEY, lines int)"))
        db.session.commit()
        tokens = []
        for n in range(CLINICS):
            create_user(f"bench{n}", "bench-password", "doctor", clinic_code=f"BX{n:03d}")
            tokens.append(issue_token(f"bench{n}", now))
        by_number = {
            number: rid
            for number, rid in db.session.execute(select(Resident.id_number, Resident.id))
        }
        demo = read_policy_file((ROOT / "demo" / "policy.toml").read_bytes(), "demo/policy.toml")
        checks = PolicyVersion.columns_for(demo.policy)["oversight"]
        assert isinstance(checks, str)
        db.session.remove()
        db.engine.dispose()
    return Bench(tokens, [(by_number[number], number) for number in ids], checks)


def set_checks(url: str, checks: str | None) -> None:
    """The policy's checks at recording: ``checks`` (the demo's) or None (off).

    The bench's one policy version is changed in place (the bench database only):
    the app reads it with every visit's facts, so the next visit is checked or not.
    """
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("UPDATE policy_version SET oversight = %s", (checks,))


def _postgresql(server_url: str | None, what: str, echo: Callable[[str], None]) -> str | None:
    """The PostgreSQL server to measure on; None, said, when the URL names another engine."""
    server_url = server_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    if server_url.startswith("postgresql"):
        return server_url
    echo(f"{what}: skipped (needs PostgreSQL in BENCH_DATABASE_URL)")
    return None


def _expected(path: str) -> int:
    """The answer every request to ``path`` must get: 201 a new visit, 200 the others."""
    return 201 if path == SIDES["record"] else 200


# --- the server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "warning",
        }
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                    "--bind", f"127.0.0.1:{self.port}", "bench.recording:bench_app()",
                ],
                cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 300  # a loaded machine takes minutes to import the app twice
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        self.stop()
        raise SystemExit("gunicorn did not start: " + log.read_text()[-2000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# --- the clients -------------------------------------------------------------------------


def _body(clinic: str, id_number: str) -> bytes:
    # No injection: with the demo's checks on, an injection without an injectable
    # item (none of LINES is) would warn on every visit and store a check with it.
    return json.dumps(
        {
            "clinic": clinic,
            "patient_id_number": id_number,
            "injection": False,
            "lines": LINES,
            "warning_reason": WARNING_REASON,
        }
    ).encode()


def measure(
    port: int, path: str, tokens: list[str], patients: Patients, clients: int, seconds: float
) -> tuple[float, list[float]]:
    """``clients`` threads posting to ``path`` for ``seconds``: (requests/s, latencies in s)."""
    expected = _expected(path)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(n: int) -> None:
        clinic, token = f"BX{n % CLINICS:03d}", tokens[n % CLINICS]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = latencies[n]
        barrier.wait()
        try:
            _post_until(conn, stop, mine, clinic, token, n % CLINICS)
        finally:
            conn.close()

    def _post_until(
        conn: http.client.HTTPConnection,
        stop: threading.Event,
        mine: list[float],
        clinic: str,
        token: str,
        index: int,
    ) -> None:
        while not stop.is_set():
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            started = time.perf_counter()
            try:
                body = _body(clinic, patients.next(index)[1])
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except OSError as exc:
                failures.append(repr(exc))
                conn.close()  # http.client reconnects on the next request
                continue
            if response.status != expected:
                failures.append(f"{response.status} {answer[:200]!r}")
                continue
            if not stop.is_set():
                mine.append(time.perf_counter() - started)

    elapsed = for_a_while(client, clients, seconds, barrier, stop)
    if failures:
        raise SystemExit(f"{path}: {len(failures)} failed requests, e.g. {failures[:3]}")
    done = [x for mine in latencies for x in mine]
    return len(done) / elapsed, done


def _percentile(values: list[float], q: float) -> float:
    if not values:  # nothing finished inside a (very short) measurement
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verify_floor(
    url: str,
    bench: Bench,
    patients: Patients,
    visits: int = 64,
    echo: Callable[[str], None] = print,
) -> floor.Template:
    """What the floor writes, against what the app writes for the same number of visits.

    ``visits`` recorded through the app (in this process, checks off), then as
    many by the floor, each counted per table by PostgreSQL's own statistics
    (rows inserted plus rows updated, read once every session has exited); the
    two must be equal table by table, or the run stops.  First one visit per
    clinic through the app: it makes the clinic's month statement row and audit
    chain head, which only a clinic's first visit writes.  Answers the floor's
    content: the app's last visit, as written.
    """
    from app.extensions import db

    requests_log = logging.getLogger("yiyuan.requests")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)  # the request log: not on the terminal
    app = bench_app({"SQLALCHEMY_DATABASE_URI": url})
    client = app.test_client()
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    info = conninfo(url)
    database = make_url(url).database or ""

    def record(n: int) -> int:
        _, number = patients.next(n % CLINICS)
        response = client.post(
            SIDES["record"],
            data=_body(f"BX{n % CLINICS:03d}", number),
            headers={
                "Authorization": f"Bearer {bench.tokens[n % CLINICS]}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        if response.status_code != 201:
            raise SystemExit(f"verify: {response.status_code} {response.data[:200]!r}")
        visit_id: int = response.get_json()["id"]
        return visit_id

    def counted() -> dict[str, int]:
        with app.app_context():
            db.engine.dispose()
        _idle(admin, database)
        with psycopg.connect(info, autocommit=True) as conn:
            return floor.written(conn)

    try:
        last = 0
        for n in range(CLINICS):
            last = record(n)
        before = counted()
        for n in range(visits):
            last = record(n)
        after_app = counted()
        with psycopg.connect(info) as conn:
            content = floor.template(conn, last)
            staff = floor.doctors(conn, bench.usernames)
            for n in range(visits):
                floor.write_visit(conn, content, staff[n % CLINICS], patients.next(n % CLINICS))
        after_floor = counted()
    finally:
        requests_log.setLevel(level)
        with app.app_context():
            db.engine.dispose()
        admin.dispose()
    by_app = {t: after_app[t] - before[t] for t in floor.TABLES}
    by_floor = {t: after_floor[t] - after_app[t] for t in floor.TABLES}
    echo(
        f"rows written per table for {visits} visits, app / floor: "
        + ", ".join(f"{t} {by_app[t]}/{by_floor[t]}" for t in floor.TABLES)
    )
    if by_app != by_floor:
        raise SystemExit("the floor does not write what the app writes")
    return content


def run(
    server_url: str | None = None,
    seconds: float | None = None,
    rounds: int | None = None,
    echo: Callable[[str], None] = print,
    database: str = DATABASE,
) -> dict[int, dict[str, float]]:
    """Prepare, serve, measure; one printed line per concurrency, and the figures.

    Four sides, interleaved (each leads in turn): the bare endpoint, the
    same-content floor (:mod:`bench.floor`, no HTTP), a recorded visit with the
    policy's checks off and one with the demo's checks on (the policy version
    changed in place before each of those measurements).
    """
    server_url = _postgresql(server_url, "recording over HTTP", echo)
    if server_url is None:
        return {}
    seconds = seconds or float(os.environ.get("BENCH_SECONDS", "5"))
    rounds = rounds or int(os.environ.get("ROUNDS", "3"))
    url = _database(server_url, database)
    bench = prepare(url)
    patients = Patients(bench.residents)
    content = verify_floor(url, bench, patients, echo=echo)
    info = conninfo(url)
    with psycopg.connect(info) as conn:
        staff = floor.doctors(conn, bench.usernames)
    rates: dict[tuple[str, int], list[float]] = {}
    latencies: dict[tuple[str, int], list[float]] = {}

    def side(kind: str, clients: int, length: float) -> tuple[float, list[float]]:
        if kind == "floor":
            return floor.measure(info, content, staff, patients.next, clients, length)
        if kind in ("record", "checked"):
            set_checks(url, bench.checks if kind == "checked" else None)
        path = SIDES["bare" if kind == "bare" else "record"]
        return measure(server.port, path, bench.tokens, patients, clients, length)

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(url, Path(tmp) / "gunicorn.log")
        try:
            load_before = os.getloadavg()[0]
            for kind in HTTP_SIDES:  # warm every worker and connection
                side(kind, 8, 1.0)
            for r in range(rounds):
                for clients in CONCURRENCY:
                    order = list(HTTP_SIDES)
                    shift = (r + clients) % len(order)  # each side leads in turn
                    order = order[shift:] + order[:shift]
                    for kind in order:
                        rate, done = side(kind, clients, seconds)
                        rates.setdefault((kind, clients), []).append(rate)
                        latencies.setdefault((kind, clients), []).extend(done)
            load_after = os.getloadavg()[0]
        except SystemExit as exc:  # a failed request: what the server said of it
            log = (Path(tmp) / "gunicorn.log").read_text(errors="replace")
            raise SystemExit(f"{exc}\nserver log (end):\n{log[-3000:]}") from None
        finally:
            server.stop()
    results: dict[int, dict[str, float]] = {}
    echo(
        f"recording over HTTP (gunicorn, PostgreSQL; {rounds} rounds x {seconds:g} s, "
        f"load {load_before:.1f} -> {load_after:.1f})"
    )
    echo(
        "clients | visits/s | bare req/s | ratio | p50 ms (bare) | p99 ms (bare) "
        "| floor visits/s | visits/floor | checked visits/s | checked/visits"
    )
    for clients in CONCURRENCY:
        rec, bare = ("record", clients), ("bare", clients)
        figures = {
            "visits_per_s": statistics.median(rates[rec]),
            "bare_per_s": statistics.median(rates[bare]),
            "floor_per_s": statistics.median(rates[("floor", clients)]),
            "checked_per_s": statistics.median(rates[("checked", clients)]),
            "p50": _percentile(latencies[rec], 0.50) * 1000,
            "p99": _percentile(latencies[rec], 0.99) * 1000,
            "bare_p50": _percentile(latencies[bare], 0.50) * 1000,
            "bare_p99": _percentile(latencies[bare], 0.99) * 1000,
        }
        figures["ratio"] = figures["visits_per_s"] / (figures["bare_per_s"] or math.nan)
        floor_rate = figures["floor_per_s"] or math.nan
        figures["floor_ratio"] = floor_rate / (figures["bare_per_s"] or math.nan)
        figures["ratio_to_floor"] = figures["visits_per_s"] / floor_rate
        figures["checked_ratio"] = figures["checked_per_s"] / (figures["visits_per_s"] or math.nan)
        results[clients] = figures
        echo(
            f"{clients:>7} | {figures['visits_per_s']:8.0f} | {figures['bare_per_s']:10.0f} | "
            f"{figures['ratio']:5.2f} | {figures['p50']:6.1f} ({figures['bare_p50']:5.1f}) | "
            f"{figures['p99']:6.1f} ({figures['bare_p99']:5.1f}) "
            f"| {figures['floor_per_s']:14.0f} | {figures['ratio_to_floor']:12.2f} "
            f"| {figures['checked_per_s']:16.0f} | {figures['checked_ratio']:14.2f}"
        )
    return results


# --- in process: the server's own work, without HTTP or a client on its cores -----------


def _idle(admin: Engine, database: str) -> float:
    """PostgreSQL's ``active_time`` for ``database`` (ms) once no session is open on it.

    A backend adds its statements' time to ``pg_stat_database`` at the latest when
    it exits, so the caller closes the pool first and this waits for the exits.
    """
    deadline = time.monotonic() + 30
    with admin.connect() as conn:
        while time.monotonic() < deadline:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            open_sessions = conn.execute(
                # The pool's sessions are what must exit; an autovacuum worker may run on.
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = :db AND backend_type = 'client backend'"
                ),
                {"db": database},
            ).scalar_one()
            if not open_sessions:
                active: float = conn.execute(
                    text("SELECT active_time FROM pg_stat_database WHERE datname = :db"),
                    {"db": database},
                ).scalar_one()
                return active
            time.sleep(0.05)
    raise SystemExit(f"sessions on {database} did not close")


def in_process(
    server_url: str | None = None,
    requests: int | None = None,
    rounds: int | None = None,
    echo: Callable[[str], None] = print,
    database: str = DATABASE + "_wsgi",
) -> dict[str, dict[str, float]]:
    """Each side called through the WSGI app in this process; ms per request.

    No HTTP, no gunicorn and no client threads on the server's two cores: what
    is left is the app's own work.  Per side, the medians over ``rounds``
    interleaved rounds of ``requests`` requests each (Flask's test client, one
    clinic's token after another, as over HTTP): the wall time, this process's
    CPU time (the app's Python, psycopg and the test client) and PostgreSQL's
    own time (its ``active_time`` for the database: the statements executing,
    the commit's flush included).  Then the budget the goal leaves a visit: a
    ratio of 0.6 to the bare request allows a visit ``bare / 0.6`` of wall time.
    """
    from app.extensions import db

    server_url = _postgresql(server_url, "recording in process", echo)
    if server_url is None:
        return {}
    requests = requests or int(os.environ.get("BENCH_REQUESTS", "400"))
    rounds = rounds or int(os.environ.get("ROUNDS", "3"))
    url = _database(server_url, database)
    bench = prepare(url)
    tokens, patients = bench.tokens, Patients(bench.residents)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    figures: dict[str, dict[str, list[float]]] = {
        kind: {"wall": [], "cpu": [], "server": []} for kind in SIDES
    }
    requests_log = logging.getLogger("yiyuan.requests")
    handlers = requests_log.handlers[:]
    with tempfile.TemporaryDirectory() as tmp:
        app = bench_app({"SQLALCHEMY_DATABASE_URI": url})
        # The request log is written as gunicorn's would be, to a file, not the terminal.
        log_file = logging.FileHandler(Path(tmp) / "requests.log")
        requests_log.handlers = [log_file]
        client = app.test_client()

        def post(path: str, n: int) -> None:
            response = client.post(
                path,
                data=_body(f"BX{n % CLINICS:03d}", patients.next(n % CLINICS)[1]),
                headers={
                    "Authorization": f"Bearer {tokens[n % CLINICS]}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            if response.status_code != _expected(path):
                raise SystemExit(f"{path}: {response.status_code} {response.data[:200]!r}")

        def closed() -> float:
            with app.app_context():
                db.engine.dispose()
            return _idle(admin, database)

        try:
            for path in SIDES.values():  # warm the app, the pool and the plans
                for n in range(min(requests, 100)):
                    post(path, n)
            for r in range(rounds):
                order = list(SIDES.items())
                order = order[r % len(order) :] + order[: r % len(order)]
                for kind, path in order:
                    active = closed()
                    cpu, wall = time.process_time(), time.perf_counter()
                    for n in range(requests):
                        post(path, n)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    server = closed() - active
                    figures[kind]["wall"].append(wall * 1000 / requests)
                    figures[kind]["cpu"].append(cpu * 1000 / requests)
                    figures[kind]["server"].append(server / requests)
        finally:
            requests_log.handlers = handlers
            log_file.close()
            with app.app_context():
                db.engine.dispose()
            admin.dispose()
            _database(server_url, database, create=False)
    results = {
        kind: {name: statistics.median(values) for name, values in by.items()}
        for kind, by in figures.items()
    }
    bare = results["bare"]["wall"]
    echo(
        f"recording in process (the WSGI app without HTTP, PostgreSQL; "
        f"{rounds} rounds x {requests} requests; ms per request)"
    )
    echo("side   | wall  | app CPU | PostgreSQL | bare / side")
    for kind, figure in results.items():
        figure["ratio"] = bare / figure["wall"]
        echo(
            f"{kind:<6} | {figure['wall']:5.2f} | {figure['cpu']:7.2f} "
            f"| {figure['server']:10.2f} | {figure['ratio']:5.2f}"
        )
    record = results["record"]
    echo(
        f"a ratio of 0.6 allows a visit {bare / 0.6:.2f} ms, {bare / 0.6 - bare:.2f} ms more "
        f"than the bare request; PostgreSQL alone takes "
        f"{record['server'] - results['bare']['server']:.2f} ms more for a visit"
    )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="call the app in this process (no HTTP): the server's own time per request",
    )
    if parser.parse_args().in_process:
        in_process()
    else:
        run()
