"""A synthetic month of visits at district, city or province scale, in minutes.

Guarantees: every row satisfies the schema's CHECKs (the figures come from a
few dozen consistent visit templates, each the sum of its lines, total =
patient + fund + fiscal), receipts are gapless per clinic and follow time,
about 1 % of visits are voided, each visit's ``visit_date`` is the Shanghai
date of its ``visited_at`` (what the day rollup's PostgreSQL check reads), and
the run is reproducible: which clinic, template and void a visit gets is a
hash of its number (:func:`_draw`, the same in Python and in SQL), so SQLite
and PostgreSQL hold the same rows.  Beside the visits and lines the database
holds what recording would have kept: the receipt counters, one open
statement per clinic and month, the id sequences and the clinic-day and
clinic-month item rollups (:func:`app.visits.operations.fill_rollups`, what
``flask statements rebuild-rollups`` runs).  The load is checked once at the
end, set-based (:func:`verify`): every visit's lines sum to its
``lines_total``, and the rollups equal the visits and lines — what
PostgreSQL's deferred triggers and ``flask statements check-rollup`` check.

Not generated: the audit chain.  ``flask audit verify`` reports a generated
visit as never audited (``flask audit adopt`` is the app's way to bring rows
written outside the app into the chain; at a province's scale both read every
line into memory, so neither is run here).

How, on PostgreSQL (where the hours went before: one deferred constraint
trigger event per visit and per line — ``visit_lines_total``, each an
aggregate at commit — plus the foreign-key checks and six plus three index
insertions per row, all behind ``COPY`` into the partitioned tables): the
month's partitions are first made as plain tables, with the parents' columns
and CHECKs but no index, trigger or foreign key; visits and lines are written
into them by ``INSERT … SELECT`` over ``generate_series`` and the template
tables (no Python per row), chunk by chunk, each chunk's visits and lines in
two connections at once, each chunk committed; then the tables are attached
as the month's partitions, which builds their indexes in bulk and checks
their foreign keys with one join each (the row triggers are cloned, and
never fire for rows already there).  A time budget bounds the chunks: when it
runs out the month holds fewer visits and :class:`Generated` says how many —
a benchmark reports what was really measured.  :func:`resume` completes a
run that stopped before attaching.  On SQLite (the tiny smoke test) the same
rows are made in Python and inserted with ``executemany``.

Shape: ``clinics`` clinics (198, Huadu's count, by default) in districts of
at most 200, visits spread evenly over the month's days (ids growing with
time) and uniformly over clinics and the 60 templates of 1–4 lines each.

Run alone: ``python -m bench.generate --scale province --database NAME`` makes
(or, with ``--reuse``, completes) the database ``NAME`` on the server of
``BENCH_DATABASE_URL`` and prints the time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, insert, text

from app.auth.models import User
from app.catalog.models import CatalogItem
from app.places.models import Clinic, District, Town, Village
from app.visits.models import Visit, VisitLine
from app.visits.operations import fill_rollups
from app.visits.partitions import partition_name

SCALES = {"tiny": 2_000, "district": 100_000, "city": 1_000_000, "province": 10_000_000}
MONTH = "2026-10"
YEAR = 2026
# The month's first instant in Shanghai (UTC+8, no daylight saving) and its length.
START = dt.datetime(2026, 9, 30, 16, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2026, 10, 1)
SPAN = 31 * 86400 - 1
CHUNK = 1_000_000  # visits per committed chunk on PostgreSQL
SQLITE_CHUNK = 50_000
CLINICS_PER_DISTRICT = 200
TEMPLATES = 60
# The month's partitions, made as plain tables first (see the module's docstring).
VISITS_TABLE = partition_name("visit", MONTH)
LINES_TABLE = partition_name("visit_line", MONTH)
TEMPLATE_TABLE = "bench_template"
TEMPLATE_LINE_TABLE = "bench_template_line"

VISIT_FIGURES = (
    "lines_total", "registration", "injection_fee", "in_scope", "self_pay", "fund_base",
    "deductible_applied", "fund", "fiscal", "copay", "patient", "total",
)  # fmt: skip
LINE_FIELDS = (
    "line_no", "item_id", "item_code", "item_name", "kind", "unit", "insurance_class",
    "quantity", "unit_price", "amount", "in_scope", "self_pay", "fund_base",
)  # fmt: skip
VISIT_COLUMNS = (
    "id", "clinic_id", "resident_id", "patient_id_number", "visited_at", "visit_date", "month",
    "year", "receipt_seq", "receipt_number", "policy_version_id", "programme", "insured",
    "reasons", "injection", *VISIT_FIGURES, "recorded_by_id", "recorded_at", "voided_at",
    "voided_by_id", "void_reason",
)  # fmt: skip
LINE_COLUMNS = ("id", "visit_id", "month", *LINE_FIELDS)

# A 32-bit integer hash (two multiply-xorshift rounds), written once in Python
# and once as SQL over bigint (PostgreSQL's ``#`` is xor; ``*`` binds tighter
# than ``&``, ``#`` and ``>>``, as in Python): products stay below 2**59.
MIX = 0x45D9F3B
MASK = 0xFFFFFFFF


def _mix(x: int) -> int:
    for _ in range(2):
        x = ((x >> 16) ^ x) * MIX & MASK
    return (x >> 16) ^ x


def _mix_sql(x: str) -> str:
    for _ in range(2):
        x = f"((({x}) >> 16) # ({x})) * {MIX} & {MASK}"
    return f"((({x}) >> 16) # ({x}))"


# What a visit ``n`` (0-based) draws: its clinic (index), its template, whether voided.
CLINIC_DRAW, TEMPLATE_DRAW, VOID_DRAW = 0, 1, 2


def _draw(n: int, which: int) -> int:
    return _mix(n * 4 + which)


def _draw_sql(n: str, which: int) -> str:
    return _mix_sql(f"{n} * 4 + {which}")


@dataclass(frozen=True)
class Generated:
    scale: str
    wanted: int
    visits: int
    lines: int
    clinics: int
    districts: list[str]
    seconds: float
    # Seconds per step (reference data, load, attach, complete, verify, analyze).
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.visits == self.wanted


@dataclass(frozen=True)
class Template:
    visit: tuple[int, ...]  # VISIT_FIGURES, in order
    injection: bool
    lines: list[tuple[Any, ...]]  # LINE_FIELDS, in order


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


def _templates(
    rng: random.Random, items: list[dict[str, Any]], count: int = TEMPLATES
) -> list[Template]:
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
    clinic_rows: list[dict[str, Any]] = []
    village_rows = []
    for number in range(clinics):
        district = districts[number // CLINICS_PER_DISTRICT]
        village = f"{district}001{number % CLINICS_PER_DISTRICT:03d}"
        village_rows.append(
            {"code": village, "name": f"村{number}", "kind": "village",
             "town_code": f"{district}001"}
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
    with engine.begin() as conn:
        conn.execute(insert(District), [{"code": c, "name": f"区{c}"} for c in districts])
        conn.execute(
            insert(Town),
            [{"code": f"{c}001", "name": f"镇{c}", "district_code": c} for c in districts],
        )
        conn.execute(insert(Village), village_rows)
        conn.execute(insert(Clinic), clinic_rows)
        conn.execute(insert(CatalogItem), _items(80))
        user_id = conn.execute(
            insert(User).returning(User.id),
            {"username": "bench", "display_name": "bench", "password_hash": "-", "role": "admin"},
        ).scalar_one()
    return [(number + 1, f"BC{number + 1:05d}") for number in range(clinics)], districts, user_id


def _receipt(code: str, seq: int) -> str:
    return f"{code}-{YEAR}-{seq:06d}"


def _rows(
    templates: list[Template],
    clinics: list[tuple[int, str]],
    user_id: int,
    start: int,
    count: int,
    wanted: int,
    seqs: dict[int, int],
    first_line_id: int,
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Visits ``start`` … ``start + count - 1`` of ``wanted``, in time order, with their lines
    (SQLite; :func:`_visits_sql` and :func:`_lines_sql` make the same rows on PostgreSQL)."""
    line_id = first_line_id
    for number in range(start, start + count):
        # Time order: ids grow with visited_at, as they do when visits are recorded.
        seconds = number * SPAN // wanted
        day = FIRST_DAY + dt.timedelta(days=seconds // 86400)
        at = START + dt.timedelta(seconds=seconds)
        clinic_id, code = clinics[_draw(number, CLINIC_DRAW) % len(clinics)]
        seqs[clinic_id] = seq = seqs.get(clinic_id, 0) + 1
        template = templates[_draw(number, TEMPLATE_DRAW) % len(templates)]
        voided = _draw(number, VOID_DRAW) % 100 == 0
        visit_id = number + 1
        visit = (
            visit_id, clinic_id, None, f"44011419900101{number % 10000:04d}", at, day, MONTH,
            YEAR, seq, _receipt(code, seq), None, True, True, "", template.injection,
            *template.visit, user_id, at,
            at if voided else None, user_id if voided else None, "bench" if voided else None,
        )  # fmt: skip
        lines = []
        for line in template.lines:
            lines.append((line_id, visit_id, MONTH, *line))
            line_id += 1
        yield visit, lines


def _visits_sql(clinics: int, wanted: int, user_id: int) -> str:
    """PostgreSQL: visits ``:start`` … ``:stop - 1`` into the load table, the receipt
    counters moved past them; the same rows as :func:`_rows`."""
    figures = ", ".join(f"t.{name}" for name in VISIT_FIGURES)
    return f"""
WITH drawn AS (
    SELECT n, 1 + {_draw_sql("n", CLINIC_DRAW)} % {clinics} AS clinic_id,
           {_draw_sql("n", TEMPLATE_DRAW)} % {TEMPLATES} AS template,
           {_draw_sql("n", VOID_DRAW)} % 100 = 0 AS voided,
           n * {SPAN} / {wanted} AS seconds
    FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint) - 1) AS n
), numbered AS (
    SELECT d.*, coalesce(c.last_seq, 0)
               + row_number() OVER (PARTITION BY d.clinic_id ORDER BY d.n) AS seq,
           TIMESTAMPTZ '{START.isoformat()}' + make_interval(secs => d.seconds) AS at
    FROM drawn AS d
    LEFT JOIN receipt_counter AS c ON c.clinic_id = d.clinic_id AND c.year = {YEAR}
), written AS (
    INSERT INTO {VISITS_TABLE} ({", ".join(VISIT_COLUMNS)})
    SELECT v.n + 1, v.clinic_id, NULL, '44011419900101' || lpad((v.n % 10000)::text, 4, '0'),
           v.at, DATE '{FIRST_DAY.isoformat()}' + CAST(v.seconds / 86400 AS integer),
           '{MONTH}', {YEAR}, v.seq,
           'BC' || lpad(v.clinic_id::text, 5, '0') || '-{YEAR}-'
               || CASE WHEN v.seq < 1000000 THEN lpad(v.seq::text, 6, '0') ELSE v.seq::text END,
           NULL, true, true, '', t.injection, {figures}, {user_id}, v.at,
           CASE WHEN v.voided THEN v.at END, CASE WHEN v.voided THEN {user_id} END,
           CASE WHEN v.voided THEN 'bench' END
    FROM numbered AS v JOIN {TEMPLATE_TABLE} AS t ON t.template = v.template
    RETURNING clinic_id, receipt_seq
)
INSERT INTO receipt_counter (clinic_id, year, last_seq)
SELECT clinic_id, {YEAR}, max(receipt_seq) FROM written GROUP BY clinic_id
ON CONFLICT (clinic_id, year) DO UPDATE SET last_seq = excluded.last_seq
"""


def _lines_sql() -> str:
    """PostgreSQL: the lines of visits ``:start`` … ``:stop - 1``, ids from ``:first``
    in visit order (as :func:`_rows` numbers them); answers how many."""
    fields = ", ".join(f"l.{name}" for name in LINE_FIELDS)
    return f"""
WITH drawn AS (
    SELECT n, t.template, t.line_count,
           sum(t.line_count) OVER (ORDER BY n) - t.line_count AS before
    FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint) - 1) AS n
    JOIN {TEMPLATE_TABLE} AS t ON t.template = {_draw_sql("n", TEMPLATE_DRAW)} % {TEMPLATES}
), written AS (
    INSERT INTO {LINES_TABLE} ({", ".join(LINE_COLUMNS)})
    SELECT :first + d.before + l.line_no - 1, d.n + 1, '{MONTH}', {fields}
    FROM drawn AS d JOIN {TEMPLATE_LINE_TABLE} AS l ON l.template = d.template
    RETURNING 1
)
SELECT count(*) FROM written
"""


def _prepare_postgresql(engine: Engine, templates: list[Template]) -> None:
    """The template tables and the month's load tables: plain tables with the
    parents' columns, defaults and CHECKs (the money identity among them), and
    no index, trigger or foreign key yet."""
    with engine.begin() as conn:
        for table in (LINES_TABLE, VISITS_TABLE):  # a migration may have made them, empty
            if (
                _exists(conn, table)
                and conn.execute(text(f"SELECT EXISTS (SELECT FROM {table})")).scalar_one()
            ):
                raise SystemExit(f"{table} already holds visits: generate needs an empty month")
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        for table, parent in ((VISITS_TABLE, "visit"), (LINES_TABLE, "visit_line")):
            conn.execute(
                text(
                    f"CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                )
            )
        figures = ", ".join(f"{name} integer NOT NULL" for name in VISIT_FIGURES)
        conn.execute(
            text(
                f"CREATE TABLE {TEMPLATE_TABLE} (template integer PRIMARY KEY, "
                f"injection boolean NOT NULL, line_count integer NOT NULL, {figures})"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE {TEMPLATE_LINE_TABLE} "
                f"(template integer NOT NULL, LIKE visit_line INCLUDING DEFAULTS)"
            )
        )
        conn.execute(
            text(f"ALTER TABLE {TEMPLATE_LINE_TABLE} DROP COLUMN id, DROP COLUMN visit_id")
        )
        names = ", ".join(VISIT_FIGURES)
        values = ", ".join(f":{name}" for name in VISIT_FIGURES)
        conn.execute(
            text(
                f"INSERT INTO {TEMPLATE_TABLE} (template, injection, line_count, {names}) "
                f"VALUES (:template, :injection, :line_count, {values})"
            ),
            [
                {
                    "template": i,
                    "injection": t.injection,
                    "line_count": len(t.lines),
                    **dict(zip(VISIT_FIGURES, t.visit, strict=True)),
                }
                for i, t in enumerate(templates)
            ],
        )
        conn.execute(
            text(
                f"INSERT INTO {TEMPLATE_LINE_TABLE} (template, month, {', '.join(LINE_FIELDS)}) "
                f"VALUES (:template, '{MONTH}', {', '.join(':' + n for n in LINE_FIELDS)})"
            ),
            [
                {"template": i, **dict(zip(LINE_FIELDS, line, strict=True))}
                for i, t in enumerate(templates)
                for line in t.lines
            ],
        )


def _exists(conn: Connection, table: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar_one()


def _attached(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(:t))"),
            {"t": table},
        ).scalar_one()
    )


def _load_postgresql(
    engine: Engine, clinics: int, wanted: int, user_id: int, started: float, budget: float,
    workers: int,
) -> tuple[int, int]:  # fmt: skip
    """Chunks of visits and their lines into the load tables until done or out of
    budget: (visits, lines) written."""
    visits_sql = text(_visits_sql(clinics, wanted, user_id))
    lines_sql = text(_lines_sql())

    def run(statement: TextClause, parameters: dict[str, int]) -> int:
        with engine.begin() as conn:
            # Per chunk the window sorts of a million rows, in memory.
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            # A chunk lost to a crash is generated again: no wait for the WAL flush.
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            result = conn.execute(statement, parameters)
            return result.rowcount if statement is visits_sql else int(result.scalar_one())

    visits = lines = 0
    with ThreadPoolExecutor(max_workers=max(1, min(workers, 2))) as pool:
        while visits < wanted and time.perf_counter() - started < budget:
            span = {"start": visits, "stop": min(visits + CHUNK, wanted)}
            # A chunk's visits and lines are independent (both follow from the
            # visit's number): two connections write them at once.
            written_visits = pool.submit(run, visits_sql, span)
            written_lines = pool.submit(run, lines_sql, {**span, "first": lines + 1})
            written_visits.result()
            lines += written_lines.result()
            visits = span["stop"]
    return visits, lines


def _load_sqlite(
    engine: Engine, clinic_list: list[tuple[int, str]], templates: list[Template], wanted: int,
    user_id: int, started: float, budget: float,
) -> tuple[int, int]:  # fmt: skip
    seqs: dict[int, int] = {}
    visits = lines = 0
    while visits < wanted and time.perf_counter() - started < budget:
        count = min(SQLITE_CHUNK, wanted - visits)
        batch = list(_rows(templates, clinic_list, user_id, visits, count, wanted, seqs, lines + 1))
        line_rows = [line for _, ls in batch for line in ls]
        with engine.begin() as conn:
            conn.execute(
                insert(Visit), [dict(zip(VISIT_COLUMNS, v, strict=True)) for v, _ in batch]
            )
            conn.execute(
                insert(VisitLine), [dict(zip(LINE_COLUMNS, v, strict=True)) for v in line_rows]
            )
        visits += count
        lines += len(line_rows)
    return visits, lines


def generate(
    engine: Engine, scale: str, clinics: int = 198, budget: float = 900.0, workers: int = 2
) -> Generated:
    """Fill an empty, migrated database with one month at ``scale``.

    ``workers`` (1 or 2) connections write each chunk on PostgreSQL.
    """
    wanted = SCALES[scale]
    started = time.perf_counter()
    phases = _Phases()
    rng = random.Random(9)
    clinic_list, districts, user_id = _reference_data(engine, clinics)
    templates = _templates(rng, _items(80))
    phases.done("reference data")
    if engine.dialect.name == "postgresql":
        _prepare_postgresql(engine, templates)
        visits, lines = _load_postgresql(engine, clinics, wanted, user_id, started, budget, workers)
    else:
        visits, lines = _load_sqlite(
            engine, clinic_list, templates, wanted, user_id, started, budget
        )
    phases.done("visits and lines")
    _complete(engine, phases)
    return Generated(
        scale, wanted, visits, lines, clinics, districts, time.perf_counter() - started,
        phases.seconds,
    )  # fmt: skip


class _Phases:
    """Seconds per step, each from the end of the one before."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, what: str) -> None:
        now = time.perf_counter()
        self.seconds[what] = now - self._last
        self._last = now


def _attach(engine: Engine) -> None:
    """PostgreSQL: the load tables become the month's partitions, if they are not yet.

    Attaching builds the parents' indexes on them (sorted, in bulk), checks
    their foreign keys with one join each and the partition bound with one
    scan, and clones the parents' row triggers, which fire for later writes
    only: :func:`verify` checks once what they would have checked per row.
    """
    with engine.begin() as conn:
        if not _exists(conn, VISITS_TABLE):
            return
        conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        # Visits first: attaching the lines checks their foreign key against them.
        for table, parent in ((VISITS_TABLE, "visit"), (LINES_TABLE, "visit_line")):
            if not _attached(conn, table):
                conn.execute(
                    text(f"ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES IN ('{MONTH}')")
                )
        conn.execute(text(f"DROP TABLE IF EXISTS {TEMPLATE_LINE_TABLE}, {TEMPLATE_TABLE}"))


def _complete(engine: Engine, phases: _Phases | None = None) -> None:
    """What recording would have kept beside the written rows: the partitions
    attached, receipt counters, id sequences, open statements and the statement
    rollups; then the check of it all and fresh planner statistics."""
    phases = phases or _Phases()
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        _attach(engine)
        phases.done("attach (indexes, foreign keys)")
    with engine.begin() as conn:
        if postgresql:  # the rollups' and statements' GROUP BYs, hashed in memory
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text("DELETE FROM receipt_counter"))
        conn.execute(
            text(
                "INSERT INTO receipt_counter (clinic_id, year, last_seq) "
                "SELECT clinic_id, year, MAX(receipt_seq) FROM visit GROUP BY clinic_id, year"
            )
        )
        # Recording a clinic's first visit of a month creates its open statement.
        conn.execute(
            text(
                "INSERT INTO statement (clinic_id, month, status, paid_adjustments) "
                "SELECT v.clinic_id, v.month, 'open', 0 "
                "FROM (SELECT clinic_id, month FROM visit GROUP BY clinic_id, month) AS v "
                "WHERE NOT EXISTS (SELECT 1 FROM statement AS s "
                "WHERE s.clinic_id = v.clinic_id AND s.month = v.month)"
            )
        )
        if postgresql:
            for table in ("visit", "visit_line"):
                conn.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
            conn.execute(text("ANALYZE visit, visit_line"))  # the fill's join plans on them
        fill_rollups(conn)  # as if every visit had been recorded by the app
    phases.done("counters, statements, rollups")
    problems = verify(engine)
    if problems:
        raise AssertionError("the generated month is inconsistent: " + "; ".join(problems))
    phases.done("verify")
    if postgresql:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        phases.done("analyze")


# The clinic-day rollup's figures (app.visits.figures), named as the day table names them.
DAY_SUMS = (
    "visits", "programme_visits", "injections", "total", "in_scope", "fund", "fiscal",
    "registration", "injection", "copay", "self_pay", "patient",
)  # fmt: skip


def _differ(left: str, right: str, columns: tuple[str, ...]) -> str:
    """SQL: a column of ``left`` and ``right`` differs (a missing side's NULLs too)."""
    return " OR ".join(f"{left}.{c} IS DISTINCT FROM {right}.{c}" for c in columns)


# The invariants recording keeps, each one set-based query counting the rows that break it.
CHECKS = {
    "visits whose lines do not sum to lines_total": """
        SELECT count(*) FROM visit AS v
        LEFT JOIN (SELECT visit_id, month, sum(amount) AS amount FROM visit_line
                   GROUP BY visit_id, month) AS l ON l.visit_id = v.id AND l.month = v.month
        WHERE v.lines_total <> coalesce(l.amount, 0)""",
    "visits where total ≠ patient + fund + fiscal": """
        SELECT count(*) FROM visit WHERE total <> patient + fund + fiscal""",
    "clinic-day rows that differ from the GROUP BY of their visits": """
        SELECT count(*) FROM (
            SELECT month, clinic_id, visit_date, count(*) AS visits,
                   sum(CASE WHEN programme THEN 1 ELSE 0 END) AS programme_visits,
                   sum(CASE WHEN injection THEN 1 ELSE 0 END) AS injections,
                   sum(total) AS total, sum(in_scope) AS in_scope, sum(fund) AS fund,
                   sum(fiscal) AS fiscal, sum(registration) AS registration,
                   sum(injection_fee) AS injection, sum(copay) AS copay,
                   sum(self_pay) AS self_pay, sum(patient) AS patient
            FROM visit WHERE voided_at IS NULL GROUP BY month, clinic_id, visit_date
        ) AS s FULL JOIN clinic_day AS d
            ON d.month = s.month AND d.clinic_id = s.clinic_id AND d.visit_date = s.visit_date
        WHERE """
    + _differ("s", "d", DAY_SUMS),
    "clinic-month item rows that differ from the GROUP BY of their lines": """
        SELECT count(*) FROM (
            SELECT v.month, v.clinic_id, l.item_code, l.item_name, l.unit,
                   sum(l.quantity) AS quantity, sum(l.amount) AS amount, count(*) AS lines
            FROM visit_line AS l JOIN visit AS v ON v.id = l.visit_id AND v.month = l.month
            WHERE v.voided_at IS NULL
            GROUP BY v.month, v.clinic_id, l.item_code, l.item_name, l.unit
        ) AS s FULL JOIN clinic_month_item AS i
            ON i.month = s.month AND i.clinic_id = s.clinic_id AND i.item_code = s.item_code
           AND i.item_name = s.item_name AND i.unit = s.unit
        WHERE """
    + _differ("s", "i", ("quantity", "amount", "lines")),
    "visits whose visit_date is not their Shanghai date": """
        SELECT count(*) FROM visit
        WHERE visited_at < visit_date::timestamp AT TIME ZONE 'Asia/Shanghai'
           OR visited_at >= (visit_date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'""",
}


def verify(engine: Engine) -> list[str]:
    """What PostgreSQL's deferred triggers and ``flask statements check-rollup`` would
    refuse, each counted by one set-based query: an empty list when the month holds."""
    checks = dict(CHECKS)
    if engine.dialect.name != "postgresql":  # no time zones in SQLite; its dates are written so
        del checks["visits whose visit_date is not their Shanghai date"]
    problems = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # a GROUP BY visit of every line, in memory
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
        for what, sql in checks.items():
            count = conn.execute(text(sql)).scalar_one()
            if count:
                problems.append(f"{count} {what}")
    return problems


def resume(engine: Engine, scale: str) -> Generated:
    """A database an earlier :func:`generate` filled, as it stands (``BENCH_REUSE=1``);
    completed first if that run stopped before its partitions were attached or its
    rollups filled."""
    started = time.perf_counter()
    with engine.connect() as conn:
        pending = (
            engine.dialect.name == "postgresql"
            and _exists(conn, VISITS_TABLE)
            and not (_attached(conn, VISITS_TABLE) and _attached(conn, LINES_TABLE))
        )
        measured = conn.scalar(text("SELECT COUNT(*) FROM statement WHERE status <> 'open'"))
    if measured:
        raise SystemExit(
            "BENCH_REUSE measures a generated database no run has measured yet; "
            "run without it to generate afresh"
        )
    if pending:
        _complete(engine)
    with engine.connect() as conn:
        visits, lines, clinics, rollup = conn.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM visit), (SELECT COUNT(*) FROM visit_line), "
                "(SELECT COUNT(*) FROM clinic), (SELECT COUNT(*) FROM clinic_day)"
            )
        ).one()
        districts = list(conn.scalars(text("SELECT code FROM district ORDER BY code")))
    if not visits:
        raise SystemExit("BENCH_REUSE: the database holds no generated visits")
    if not rollup:
        _complete(engine)
    return Generated(
        scale, SCALES[scale], visits, lines, clinics, districts, time.perf_counter() - started
    )


def main() -> None:
    """``python -m bench.generate --scale city --database NAME [--reuse]``."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from app.extensions import db
    from app.factory import create_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", choices=list(SCALES), default="district")
    parser.add_argument("--database", required=True, help="PostgreSQL database to (re)create")
    budget = float(os.environ.get("BENCH_BUDGET", "3600"))
    parser.add_argument("--budget", type=float, default=budget, help="seconds (BENCH_BUDGET)")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--reuse", action="store_true", help="complete the database as it is")
    args = parser.parse_args()
    server = make_url(
        os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
    )
    if not args.reuse:
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{args.database}"'))
        admin.dispose()
    url = server.set(database=args.database).render_as_string(hide_password=False)
    os.environ.setdefault("DB_STATEMENT_TIMEOUT", "36000")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    load = os.getloadavg()[0]
    with app.app_context():
        if args.reuse:
            generated = resume(db.engine, args.scale)
        else:
            upgrade()
            generated = generate(db.engine, args.scale, budget=args.budget, workers=args.workers)
        db.engine.dispose()
    state = "complete" if generated.complete else "PARTIAL"
    print(
        f"{args.database}: {generated.visits:,} visits ({state}"
        f" of {generated.wanted:,}), {generated.lines:,} lines, {generated.clinics} clinics, "
        f"generated in {generated.seconds:.1f} s (load {load:.1f}→{os.getloadavg()[0]:.1f}): "
        + ", ".join(f"{what} {s:.1f} s" for what, s in generated.phases.items()),
        flush=True,
    )


if __name__ == "__main__":
    main()
