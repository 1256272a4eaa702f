"""Reading what recording keeps (issue 22 goal 2): three figures against their raw limits.

* **a statement GET** — ``GET /api/v1/statements/<clinic>/<month>`` through the
  app (bearer token, scope, the answer's JSON) against *the same statement's
  rows read raw*: one plain psycopg query each, without the app, for every row
  the answer carries — the clinic, the statement row, its events with their
  actors, its ``clinic_day`` rows, its ``clinic_month_item`` rows, its
  adjustment lines (the reconciliation's and the platform's) and its checks
  at recording (the distinct ``(visit, rule)`` pairs the counts come from);
* **the district summary** — ``district_summary`` (what the summary page, PDF,
  exports and API answer are made from) and the API GET, against *the rollup
  sum*: one ``SELECT clinic_id, sum(…) FROM clinic_day … GROUP BY clinic_id``
  over the district's clinics (the one district join);
* **submit with peer flags** — ``POST …/submit`` by the clinic's doctor under a
  policy with ``[flags]`` and ``[review]`` (lock, freeze, event, peer flags,
  trust or worklist, durable commit, then the answer: the statement) against
  a statement GET of the same clinic.

Each pair runs in interleaved rounds (the order alternates every round) and is
reported as medians and their ratio, with the 1-minute load average at its
start and end.  A submit consumes an open clinic-month: each run submits
``SUBMITS`` clinics the earlier runs left open.

Run (see docs/benchmarks.md "Reads against the rollups")::

    READS_DB=reads_bench_1m SCALE=city python -m bench.reads

The database ``READS_DB`` on the server of ``BENCH_DATABASE_URL`` is created,
migrated and generated (``bench.generate``, ``SCALE``) if it has no visits yet,
and measured as it stands otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.generate import MONTH, generate
from bench.timing import side_by_side

FIGURES = (
    "visits, programme_visits, injections, total, in_scope, fund, fiscal, registration, "
    "injection, copay, self_pay, patient"
)

# The statement's rows, as plain SQL: what the answer carries, nothing summed over visits.
RAW_STATEMENT = (
    ("SELECT id, code, name, village_code, joined_on, left_on FROM clinic WHERE code = %(code)s"),
    ("SELECT * FROM statement WHERE clinic_id = %(clinic)s AND month = %(month)s"),
    (
        "SELECT e.action, e.from_status, e.to_status, u.display_name, e.at, e.reason "
        "FROM statement_event e JOIN statement s ON s.id = e.statement_id "
        "LEFT JOIN user_account u ON u.id = e.actor_id "
        "WHERE s.clinic_id = %(clinic)s AND s.month = %(month)s ORDER BY e.id"
    ),
    (
        f"SELECT visit_date, {FIGURES} FROM clinic_day WHERE month = %(month)s "
        "AND clinic_id = %(clinic)s AND visits > 0 ORDER BY month, clinic_id, visit_date"
    ),
    (
        "SELECT item_code, item_name, unit, quantity, amount FROM clinic_month_item "
        "WHERE month = %(month)s AND clinic_id = %(clinic)s AND lines > 0 "
        "ORDER BY month, clinic_id, item_code, item_name, unit"
    ),
    (
        "SELECT * FROM statement_adjustment WHERE clinic_id = %(clinic)s "
        "AND statement_month = %(month)s ORDER BY id"
    ),
    (
        "SELECT * FROM insurance_settlement WHERE clinic_id = %(clinic)s "
        "AND statement_month = %(month)s AND status = 'settled' AND adjustment <> 0 ORDER BY id"
    ),
    (
        "SELECT DISTINCT c.visit_id, c.rule FROM visit_check c "
        "JOIN visit v ON v.id = c.visit_id AND v.month = c.visit_month "
        "WHERE c.visit_month = %(month)s AND v.month = %(month)s AND v.clinic_id = %(clinic)s "
        "AND v.voided_at IS NULL"
    ),
)

RAW_SUMMARY = (
    f"SELECT d.clinic_id, {', '.join(f'sum(d.{f.strip()})' for f in FIGURES.split(','))} "
    "FROM clinic_day d JOIN clinic c ON c.id = d.clinic_id "
    "JOIN village v ON v.code = c.village_code JOIN town t ON t.code = v.town_code "
    "WHERE d.month = %(month)s AND t.district_code = %(district)s GROUP BY d.clinic_id"
)


def _load() -> float:
    return os.getloadavg()[0]


def _database(server: str, name: str) -> str:
    parsed = make_url(server)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _policy(district: str) -> None:
    """The demo policy file, for the bench's district: [flags] and [review] on."""
    from app.publishing.operations import load_policy, read_policy_file

    path = Path(__file__).resolve().parent.parent / "app/demo/data/policy.toml"
    data = path.read_bytes().replace(b'district = "440114"', f'district = "{district}"'.encode())
    load_policy(read_policy_file(data, "bench.reads"), source="bench.reads")


def _token(username: str, **user: Any) -> str:
    from app.auth.models import User
    from app.auth.operations import issue_token
    from app.extensions import db

    if db.session.scalar(select(User).where(User.username == username)) is None:
        db.session.add(User(username=username, password_hash="-", **user))
        db.session.commit()
    return issue_token(username, dt.datetime.now(dt.UTC), valid_days=1)


def run(server: str, name: str, scale: str, rounds: int, submits: int) -> list[str]:
    from flask_migrate import upgrade

    from app.extensions import db
    from app.factory import create_app
    from app.places.models import Clinic, Town, Village
    from app.settlement.models import Statement
    from app.settlement.queries import district_summary

    url = _database(server, name)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    out: list[str] = []
    with app.app_context():
        upgrade()
        visits = db.session.scalar(text("SELECT count(*) FROM visit"))
        if not visits:
            db.session.remove()  # its read of visit would block the partitions' DDL
            generate(db.engine, scale, budget=float(os.environ.get("BENCH_BUDGET", "3600")))
            visits = db.session.scalar(text("SELECT count(*) FROM visit"))
        district = db.session.scalar(text("SELECT min(code) FROM district"))
        _policy(district)
        clinics = list(
            db.session.scalars(
                select(Clinic)
                .join(Village)
                .join(Town)
                .where(Town.district_code == district)
                .order_by(Clinic.code)
            )
        )
        submitted = set(db.session.scalars(select(Statement.clinic_id).where(
            Statement.month == MONTH, Statement.status != "open")))  # fmt: skip
        open_clinics = [c for c in clinics if c.id not in submitted]
        reading = open_clinics[:rounds]  # read open: the case that used to sum visits
        to_submit = open_clinics[-submits:]
        reviewer = _token("reads_reviewer", role="reviewer", district_code=district)
        doctors = {
            c.code: _token(f"reads_doctor_{c.code}", role="doctor", clinic_id=c.id)
            for c in to_submit
        }
        ids = {c.code: c.id for c in clinics}
        db.session.remove()
        client = app.test_client()
        raw = psycopg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        )
        head = (
            f"{name}: {visits:,} visits, {len(clinics)} clinics in district {district}, "
            f"month {MONTH}, {rounds} interleaved rounds, "
            f"{len(submitted)} clinic-months submitted before this run"
        )
        out.append(head)
        out.append("| what | this project | raw limit | ratio | load |\n|---|---|---|---|---|")

        def get(code: str, token: str = reviewer) -> None:
            answer = client.get(
                f"/api/v1/statements/{code}/{MONTH}", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text

        def raw_statement(code: str) -> None:
            with raw.cursor() as cur:
                for sql in RAW_STATEMENT:
                    cur.execute(sql, {"code": code, "clinic": ids[code], "month": MONTH})
                    cur.fetchall()

        def line(what: str, ours: float, limit: float, load: float, unit: str = "ms") -> None:
            out.append(
                f"| {what} | {ours * 1000:.2f} {unit} | {limit * 1000:.2f} {unit} | "
                f"{ours / limit:.2f}× | {load:.1f}→{_load():.1f} |"
            )

        # Warm-up: every side once (caches, the first request's imports).
        get(reading[0].code)
        raw_statement(reading[0].code)

        load = _load()
        ours, limit = side_by_side(
            lambda i: get(reading[i % len(reading)].code),
            lambda i: raw_statement(reading[i % len(reading)].code),
            rounds,
        )
        line("statement GET (open month), vs its rows read raw", ours, limit, load)

        def raw_summary() -> None:
            with raw.cursor() as cur:
                cur.execute(RAW_SUMMARY, {"month": MONTH, "district": district})
                cur.fetchall()

        def summary() -> None:
            district_summary(district, MONTH, None)
            db.session.remove()

        def summary_get() -> None:
            answer = client.get(
                f"/api/v1/districts/{district}/summaries/{MONTH}",
                headers={"Authorization": f"Bearer {reviewer}"},
            )
            assert answer.status_code == 200, answer.text

        summary()
        summary_get()
        load = _load()
        ours, limit = side_by_side(lambda _: summary(), lambda _: raw_summary(), rounds)
        line(f"district summary ({len(clinics)} clinics), vs the rollup sum", ours, limit, load)
        load = _load()
        ours, limit = side_by_side(lambda _: summary_get(), lambda _: raw_summary(), rounds)
        line("district summary API GET, vs the rollup sum", ours, limit, load)

        def submit(code: str) -> None:
            answer = client.post(
                f"/api/v1/statements/{code}/{MONTH}/submit",
                headers={"Authorization": f"Bearer {doctors[code]}"},
            )
            assert answer.status_code == 200, answer.text

        load = _load()
        ours, limit = side_by_side(
            lambda i: submit(to_submit[i].code),
            lambda i: get(to_submit[i].code, doctors[to_submit[i].code]),
            len(to_submit),
        )
        line(
            f"submit with peer flags ({len(to_submit)} clinics), vs a statement GET",
            ours,
            limit,
            load,
        )
        raw.close()
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    server = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    os.environ.setdefault("DB_STATEMENT_TIMEOUT", "3600")
    lines = run(
        server,
        os.environ.get("READS_DB", "reads_bench_1m"),
        os.environ.get("SCALE", "city"),
        rounds=int(os.environ.get("ROUNDS", "21")),
        submits=int(os.environ.get("SUBMITS", "10")),
    )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
