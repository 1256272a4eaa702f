"""Benchmarks: the engine, recording visits, and month aggregation at scale.

Run with ``make bench`` (SQLite by default; set BENCH_DATABASE_URL to a
PostgreSQL database to measure production). Prints one line per measurement;
tests never time anything, this does.

Scale targets (SPEC §1): Huadu ≈ 1.05 M visits a year (≈ 90 k a month over
197 clinics, ≈ 450 a clinic a month); city-wide ≈ 1 M visits a month.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
import tracemalloc
from decimal import Decimal

from sqlalchemy import insert, select, text

from app.auth.models import User
from app.extensions import db
from app.factory import create_app
from app.oversight.checks import screen
from app.policy.rules import Policy
from app.visits.models import Visit
from app.visits.operations import LineRequest, VisitRequest, record_visit
from app.visits.partitions import ensure_month
from app.visits.rules import (
    Eligibility,
    InsuranceClass,
    Kind,
    LineInput,
    YearUsage,
    compute_split,
)

POLICY = Policy(100, 100, Decimal("0.70"), 0, 60000, None, Decimal("0.10"), True, True)


def bench_engine(n: int = 50_000) -> None:
    lines = [
        LineInput("DX001", Kind.CONSULTATION, InsuranceClass.A, 1000, 1000),
        LineInput("AMX01", Kind.DRUG, InsuranceClass.A, 35, 12000),
        LineInput("FFGC1", Kind.DRUG, InsuranceClass.B, 350, 1000),
        LineInput("HY001", Kind.SERVICE, InsuranceClass.A, 500, 1000),
    ]
    eligibility = Eligibility(programme=True, insured=True, reasons=())
    start = time.perf_counter()
    for _ in range(n):
        compute_split(POLICY, eligibility, lines, True, YearUsage())
    elapsed = time.perf_counter() - start
    print(f"engine: {n / elapsed:,.0f} splits/s ({elapsed / n * 1e6:.1f} µs each)")


def _app(url: str):  # type: ignore[no-untyped-def]
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    return app


def bench_record(url: str, n: int = 300) -> None:
    from tests.factories import build_world

    app = _app(url)
    with app.app_context():
        now = dt.datetime.now(dt.UTC)
        world = build_world(now)
        doctor = db.session.scalar(select(User).where(User.username == "doctor"))
        assert doctor is not None
        labels = list(world.ids)
        rng = random.Random(1)
        start = time.perf_counter()
        for i in range(n):
            request = VisitRequest(
                clinic="HD001",
                patient_id_number=world.ids[rng.choice(labels)],
                injection=i % 5 == 0,
                lines=(LineRequest("DX001", "1"), LineRequest("AMX01", str(rng.randint(6, 24)))),
                visited_at=now - dt.timedelta(seconds=n - i),
            )
            record_visit(request, doctor, now, screen=screen)
        elapsed = time.perf_counter() - start
        print(
            f"record_visit ({db.engine.dialect.name}): {n / elapsed:,.0f} visits/s "
            f"({elapsed / n * 1000:.1f} ms each, one process)"
        )


def bench_month(url: str, visits: int = 100_000) -> None:
    """Aggregate a district month: the SQL figures for every clinic, with peak memory."""
    from app.settlement.figures import figures_by_clinic, month_figures
    from tests.factories import build_world

    app = _app(url)
    with app.app_context():
        now = dt.datetime.now(dt.UTC)
        world = build_world(now)
        clinic_id = world.clinic.id
        doctor_id = db.session.scalar(select(User.id).where(User.username == "doctor"))
        # Synthetic rows (the SPEC worked example) that satisfy every CHECK.
        rows = []
        for i in range(visits):
            fund, fiscal, patient = 1215, 555, 700
            rows.append(
                {
                    "clinic_id": clinic_id,
                    "resident_id": None,
                    "patient_id_number": "x" * 18,
                    "visited_at": now,
                    "visit_date": now.date(),
                    "month": "2026-10",
                    "year": 2026,
                    "receipt_seq": i + 1,
                    "receipt_number": f"B-{i}",
                    "policy_version_id": None,
                    "programme": True,
                    "insured": True,
                    "reasons": "",
                    "injection": i % 5 == 0,
                    "lines_total": 2270,
                    "registration": 100,
                    "injection_fee": 100,
                    "in_scope": 1770,
                    "self_pay": 500,
                    "fund_base": 1735,
                    "deductible_applied": 0,
                    "fund": fund,
                    "fiscal": fiscal,
                    "copay": 0,
                    "patient": patient,
                    "total": 2470,
                    "recorded_by_id": doctor_id,
                    "recorded_at": now,
                }
            )
        ensure_month(db.engine, "2026-10")  # PostgreSQL: its partitions
        for chunk in range(0, visits, 10_000):
            db.session.execute(insert(Visit), rows[chunk : chunk + 10_000])
        # One line each, summing to lines_total: the database checks it (migration b3c9e1f2a4d5).
        db.session.execute(
            text(
                "INSERT INTO visit_line (visit_id, month, line_no, item_id, item_code, item_name, "
                "kind, unit, insurance_class, quantity, unit_price, amount, in_scope, self_pay, "
                "fund_base) SELECT id, month, 1, (SELECT MIN(id) FROM catalog_item), 'DX001', 'x', "
                "'consultation', 'x', 'A', 1000, 2270, 2270, 1770, 500, 1735 FROM visit"
            )
        )
        db.session.commit()
        del rows
        tracemalloc.start()
        start = time.perf_counter()
        figures = month_figures(clinic_id, "2026-10")
        per_clinic = figures_by_clinic([clinic_id], "2026-10")
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert figures.visits == visits and per_clinic[clinic_id].fiscal == 555 * visits
        print(
            f"month figures over {visits:,} visits ({db.engine.dialect.name}): "
            f"{elapsed * 1000:.0f} ms, peak Python memory {peak / 1024:.0f} KiB"
        )


def main() -> None:
    bench_engine()
    url = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        bench_record(url or f"sqlite:///{tmp}/record.sqlite3")
    if not url:
        with tempfile.TemporaryDirectory() as tmp:
            bench_month(f"sqlite:///{tmp}/month.sqlite3")
    # Recording over HTTP (gunicorn) against a bare bearer-token endpoint, on PostgreSQL,
    # and the same three sides in process: the server's own time per request.
    from bench.recording import in_process
    from bench.recording import run as bench_http

    bench_http()
    in_process()


if __name__ == "__main__":
    main()
