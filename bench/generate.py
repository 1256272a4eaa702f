"""A synthetic month of visits at district, city or province scale.

Guarantees: every row satisfies the schema's CHECKs (the figures come from a
few dozen consistent visit templates, each the sum of its lines), receipts
are gapless per clinic, about 1 % of visits are voided, and the run is
reproducible (a seeded generator).  On PostgreSQL visits and lines are
loaded with ``COPY`` in chunks, each committed, under a time budget: if the
budget runs out the month holds fewer visits and :class:`Generated` says how
many — a benchmark reports what was really measured.  On SQLite (the tiny
smoke test) the same rows are inserted with ``executemany``.  The clinic-day
and clinic-month item rollups that recording keeps are then filled from the
visits and lines, set-based (:func:`app.visits.operations.fill_rollups`, what
``flask statements rebuild-rollups`` runs), as if every visit had been
recorded by the app.

Shape: ``clinics`` clinics (198, Huadu's count, by default) in districts of
at most 200, visits spread over the month's days and clinics, 1–4 lines each.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, text

from app.auth.models import User
from app.catalog.models import CatalogItem
from app.places.models import Clinic, District, Town, Village
from app.visits.models import Visit, VisitLine
from app.visits.operations import fill_rollups
from app.visits.partitions import ensure_month

SCALES = {"tiny": 2_000, "district": 100_000, "city": 1_000_000, "province": 10_000_000}
MONTH = "2026-10"
YEAR = 2026
CHUNK = 50_000
CLINICS_PER_DISTRICT = 200
VISIT_COLUMNS = (
    "id, clinic_id, resident_id, patient_id_number, visited_at, visit_date, month, year, "
    "receipt_seq, receipt_number, policy_version_id, programme, insured, reasons, injection, "
    "lines_total, registration, injection_fee, in_scope, self_pay, fund_base, "
    "deductible_applied, fund, fiscal, copay, patient, total, recorded_by_id, recorded_at, "
    "voided_at, voided_by_id, void_reason"
)
LINE_COLUMNS = (
    "id, visit_id, month, line_no, item_id, item_code, item_name, kind, unit, insurance_class, "
    "quantity, unit_price, amount, in_scope, self_pay, fund_base"
)


@dataclass(frozen=True)
class Generated:
    scale: str
    wanted: int
    visits: int
    lines: int
    clinics: int
    districts: list[str]
    seconds: float

    @property
    def complete(self) -> bool:
        return self.visits == self.wanted


@dataclass(frozen=True)
class Template:
    visit: tuple[Any, ...]  # lines_total … total, in VISIT_COLUMNS order
    injection: bool
    lines: list[tuple[Any, ...]]  # item_id … fund_base, without id and visit_id


def _items(count: int) -> list[dict[str, Any]]:
    kinds = ("consultation", "drug", "drug", "service", "material")
    return [
        {
            "id": i + 1,
            "code": f"IT{i + 1:04d}",
            "name": f"项目{i + 1:04d}",
            "kind": kinds[i % len(kinds)],
            "unit": "次" if i % 5 in (0, 3) else "片",
            "insurance_class": "B" if i % 7 == 0 else "A",
            "pinyin": "",
        }
        for i in range(count)
    ]


def _templates(rng: random.Random, items: list[dict[str, Any]], count: int = 60) -> list[Template]:
    out = []
    for _ in range(count):
        chosen = rng.sample(items, rng.randint(1, 4))
        lines = []
        for no, item in enumerate(chosen, start=1):
            quantity = rng.choice((1000, 2000, 6000, 12000))
            price = rng.randint(20, 1500)
            amount = price * quantity // 1000
            self_pay = amount // 10 if item["insurance_class"] == "B" else 0
            lines.append(
                (
                    no,
                    item["id"],
                    item["code"],
                    item["name"],
                    item["kind"],
                    item["unit"],
                    item["insurance_class"],
                    quantity,
                    price,
                    amount,
                    amount - self_pay,
                    self_pay,
                    amount - self_pay,
                )
            )
        lines_total = sum(line[9] for line in lines)
        self_pay = sum(line[11] for line in lines)
        in_scope = lines_total - self_pay
        injection = rng.random() < 0.2
        registration, injection_fee = 100, 100 if injection else 0
        fund = in_scope * 7 // 10
        fiscal = in_scope - fund
        copay = 0
        patient = registration + injection_fee + copay + self_pay
        total = lines_total + registration + injection_fee
        visit = (
            lines_total,
            registration,
            injection_fee,
            in_scope,
            self_pay,
            in_scope,
            0,
            fund,
            fiscal,
            copay,
            patient,
            total,
        )
        out.append(Template(visit, injection, lines))
    return out


def _reference_data(engine: Engine, clinics: int) -> tuple[list[tuple[int, str]], list[str], int]:
    """Districts, towns, villages, clinics, one user and the catalogue."""
    districts = [f"{440200 + d:06d}" for d in range((clinics - 1) // CLINICS_PER_DISTRICT + 1)]
    clinic_rows = []
    with engine.begin() as conn:
        conn.execute(insert(District), [{"code": c, "name": f"区{c}"} for c in districts])
        conn.execute(
            insert(Town),
            [{"code": f"{c}001", "name": f"镇{c}", "district_code": c} for c in districts],
        )
        for number in range(clinics):
            district = districts[number // CLINICS_PER_DISTRICT]
            village = f"{district}001{number % CLINICS_PER_DISTRICT:03d}"
            conn.execute(
                insert(Village),
                {"code": village, "name": f"村{number}", "kind": "village",
                 "town_code": f"{district}001"},
            )  # fmt: skip
            clinic_rows.append(
                {
                    "id": number + 1,
                    "code": f"BC{number + 1:05d}",
                    "name": f"卫生站{number + 1}",
                    "village_code": village,
                    "joined_on": dt.date(2020, 1, 1),
                }
            )
        conn.execute(insert(Clinic), clinic_rows)
        conn.execute(insert(CatalogItem), _items(80))
        user_id = conn.execute(
            insert(User).returning(User.id),
            {"username": "bench", "display_name": "bench", "password_hash": "-", "role": "admin"},
        ).scalar_one()
    return [(c["id"], c["code"]) for c in clinic_rows], districts, user_id


def _rows(
    rng: random.Random,
    templates: list[Template],
    clinics: list[tuple[int, str]],
    user_id: int,
    start: int,
    count: int,
    wanted: int,
    seqs: dict[int, int],
    first_line_id: int,
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Visits ``start`` … ``start + count - 1`` of ``wanted``, in time order."""
    line_id = first_line_id
    for number in range(start, start + count):
        # Time order: ids grow with visited_at, as they do when visits are recorded.
        seconds = number * (31 * 86400 - 1) // wanted
        day = dt.date(YEAR, 10, 1) + dt.timedelta(days=seconds // 86400)
        at = dt.datetime(YEAR, 10, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
        clinic_id, code = clinics[rng.randrange(len(clinics))]
        seqs[clinic_id] = seq = seqs.get(clinic_id, 0) + 1
        template = templates[rng.randrange(len(templates))]
        voided = rng.random() < 0.01
        visit_id = number + 1
        visit = (
            visit_id, clinic_id, None, f"44011419900101{number % 10000:04d}", at, day, MONTH,
            YEAR, seq, f"{code}-{YEAR}-{seq:06d}", None, True, True, "", template.injection,
            *template.visit, user_id, at,
            at if voided else None, user_id if voided else None, "bench" if voided else None,
        )  # fmt: skip
        lines = []
        for line in template.lines:
            lines.append((line_id, visit_id, MONTH, *line))
            line_id += 1
        yield visit, lines


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    for row in rows:
        out.write(
            "\t".join(
                "\\N"
                if v is None
                else ("t" if v else "f")
                if isinstance(v, bool)
                else v.isoformat()
                if isinstance(v, dt.date)
                else str(v)
                for v in row
            )
        )
        out.write("\n")
    return out.getvalue()


def generate(engine: Engine, scale: str, clinics: int = 198, budget: float = 900.0) -> Generated:
    """Fill an empty, migrated database with one month at ``scale``."""
    wanted = SCALES[scale]
    started = time.perf_counter()
    rng = random.Random(9)
    clinic_list, districts, user_id = _reference_data(engine, clinics)
    templates = _templates(rng, _items(80))
    seqs: dict[int, int] = {}
    visits = lines = 0
    postgresql = engine.dialect.name == "postgresql"
    ensure_month(engine, MONTH)  # PostgreSQL: the month's partitions, before the COPY
    while visits < wanted and time.perf_counter() - started < budget:
        count = min(CHUNK, wanted - visits)
        batch = list(
            _rows(rng, templates, clinic_list, user_id, visits, count, wanted, seqs, lines + 1)
        )
        visit_rows = [v for v, _ in batch]
        line_rows = [line for _, ls in batch for line in ls]
        with engine.begin() as conn:
            if postgresql:
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY visit ({VISIT_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_copy_text(visit_rows))
                with cursor.copy(f"COPY visit_line ({LINE_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_copy_text(line_rows))
            else:
                names = [c.strip() for c in VISIT_COLUMNS.split(",")]
                conn.execute(insert(Visit), [dict(zip(names, v, strict=True)) for v in visit_rows])
                names = [c.strip() for c in LINE_COLUMNS.split(",")]
                conn.execute(
                    insert(VisitLine), [dict(zip(names, v, strict=True)) for v in line_rows]
                )
        visits += count
        lines += len(line_rows)
    _complete(engine)
    return Generated(
        scale, wanted, visits, lines, clinics, districts, time.perf_counter() - started
    )


def _complete(engine: Engine) -> None:
    """What recording would have kept beside the copied rows: receipt counters, id
    sequences and the statement rollups; then fresh planner statistics."""
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM receipt_counter"))
        conn.execute(
            text(
                "INSERT INTO receipt_counter (clinic_id, year, last_seq) "
                "SELECT clinic_id, year, MAX(receipt_seq) FROM visit GROUP BY clinic_id, year"
            )
        )
        if postgresql:
            for table in ("visit", "visit_line"):
                conn.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
            conn.execute(text("ANALYZE visit, visit_line"))  # the fill's join plans on them
        fill_rollups(conn)  # as if every visit had been recorded by the app
        if postgresql:
            conn.execute(text("ANALYZE"))


def resume(engine: Engine, scale: str) -> Generated:
    """A database an earlier :func:`generate` filled, as it stands (``BENCH_REUSE=1``);
    completed first if that run stopped after its last chunk (no rollups yet)."""
    started = time.perf_counter()
    with engine.connect() as conn:
        visits, lines, clinics, rollup = conn.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM visit), (SELECT COUNT(*) FROM visit_line), "
                "(SELECT COUNT(*) FROM clinic), (SELECT COUNT(*) FROM clinic_day)"
            )
        ).one()
        districts = list(conn.scalars(text("SELECT code FROM district ORDER BY code")))
        measured = conn.scalar(text("SELECT COUNT(*) FROM statement"))
    if not visits or measured:
        raise SystemExit(
            "BENCH_REUSE measures a generated database no run has measured yet; "
            "run without it to generate afresh"
        )
    if not rollup:
        _complete(engine)
    return Generated(
        scale, SCALES[scale], visits, lines, clinics, districts, time.perf_counter() - started
    )
