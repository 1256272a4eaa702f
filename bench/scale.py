"""The month close, district summary and statement PDFs against their limits.

Each figure is measured side by side with the limit it is compared with, in
interleaved rounds (the order alternates every round, so a slow moment of
the shared machine hits both), and reported as medians and their ratio.
Load average is recorded at the start and the end of each measurement.

Run with ``make bench SCALE=city`` (see docs/benchmarks.md).  Tests call
:func:`run` at the ``tiny`` scale on SQLite and never look at a time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url

from bench.generate import MONTH, SCALES, Generated, generate, resume
from bench.timing import side_by_side as interleaved

BARE_COLUMNS = 7


@dataclass
class Result:
    what: str
    ours: float
    limit: float
    unit: str
    goal: str
    note: str = ""
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def ratio(self) -> float:
        return self.ours / self.limit if self.limit else float("inf")

    def row(self) -> str:
        return (
            f"| {self.what} | {self.ours:,.3g} {self.unit} | {self.limit:,.3g} {self.unit} | "
            f"{self.ratio:.2f}× | {self.goal} | {self.note} "
            f"(load {self.load[0]:.1f}→{self.load[1]:.1f}) |"
        )


@dataclass
class Report:
    generated: Generated
    dialect: str
    results: list[Result] = field(default_factory=list)
    progress: bool = False

    def add(self, result: Result) -> None:
        self.results.append(result)
        if self.progress:  # a long run's lines as they are measured, not only at its end
            print(result.row(), flush=True)

    def table(self) -> str:
        g = self.generated
        head = (
            f"{g.scale}: {g.visits:,} visits ({'complete' if g.complete else 'PARTIAL'} of "
            f"{g.wanted:,}), {g.lines:,} lines, {g.clinics} clinics, {self.dialect}, "
            f"generated in {g.seconds:.0f} s\n\n"
            "| what | this project | limit | ratio | goal | notes |\n|---|---|---|---|---|---|"
        )
        return "\n".join([head, *(r.row() for r in self.results)])


def _load() -> float:
    return os.getloadavg()[0]


def side_by_side(
    ours: Callable[[], Any], limit: Callable[[], Any], rounds: int
) -> tuple[float, float]:
    """Medians of interleaved rounds, seconds (:func:`bench.timing.side_by_side`)."""
    return interleaved(lambda _: ours(), lambda _: limit(), rounds)


def peak_memory(fn: Callable[[], Any]) -> float:
    """Peak Python heap allocated while ``fn`` runs, MB."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def _database(url: str, name: str, *, fresh: bool = True, template: str | None = None) -> str:
    """A fresh database ``name`` on the server of ``url`` (PostgreSQL; a copy of
    ``template`` if given; as it is unless ``fresh``), or ``url`` (SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    if not fresh and template is None:
        return parsed.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        copy = ""
        if template:
            copy = f" TEMPLATE {template}"
            # PostgreSQL 15 copies through the WAL by default: gigabytes are copied
            # faster as files (one checkpoint).
            if int(conn.execute(text("SHOW server_version_num")).scalar_one()) >= 150000:
                copy += " STRATEGY FILE_COPY"
        conn.execute(text(f"CREATE DATABASE {name}{copy}"))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _bare_pdf(title: str, rows: list[list[str]], font: str) -> bytes:
    """ReportLab with nothing of ours: the same rows and font, a plain table."""
    import io

    styles = getSampleStyleSheet()
    styles["Title"].fontName = font
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=1)
    table = Table(rows, repeatRows=1)
    table.setStyle(
        TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8.5)])
    )
    doc.build([Paragraph(title, styles["Title"]), table])
    return buffer.getvalue()


def _items_from_rollup(ids: list[int]) -> int:
    from app.settlement.figures import month_items

    return sum(len(items) for items in month_items(ids, MONTH).values())


def _items_from_lines(ids: list[int]) -> int:
    """The per-item query the month close ran before the rollup (id range, lines ⋈ visits)."""
    from sqlalchemy import func

    from app.extensions import db
    from app.visits.models import Visit, VisitLine

    low, high = db.session.execute(
        select(func.min(Visit.id), func.max(Visit.id)).where(Visit.month == MONTH)
    ).one()
    rows = db.session.execute(
        select(
            Visit.clinic_id,
            VisitLine.item_code,
            func.min(VisitLine.item_name),
            func.min(VisitLine.unit),
            func.sum(VisitLine.quantity),
            func.sum(VisitLine.amount),
        )
        .join(Visit, Visit.id == VisitLine.visit_id)
        .where(
            Visit.month == MONTH,
            Visit.voided_at.is_(None),
            Visit.clinic_id.in_(ids),
            VisitLine.visit_id.between(low, high),
        )
        .group_by(Visit.clinic_id, VisitLine.item_code)
        .order_by(Visit.clinic_id, VisitLine.item_code)
    ).all()
    return len(rows)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page(?!s)", pdf))


def run(
    url: str,
    scale: str,
    rounds: int = 5,
    pdfs: int = 20,
    budget: float = 900.0,
    workers: int = 2,
    database: str | None = None,
    reuse: bool = False,
    template: str | None = None,
    submitted: int | None = None,
    progress: bool = False,
) -> Report:
    """Generate ``scale`` into a fresh database and measure every figure.

    On PostgreSQL the database is ``database`` (default ``yiyuan_bench_<scale>``),
    dropped and created on the server ``url`` names, and left for inspection;
    ``reuse`` measures it as an earlier run left it instead (a province takes
    15–50 minutes to generate), if that run measured nothing yet (its submits
    would be done); ``template`` measures a copy of that generated database
    (``python -m bench.generate``), which stays as it was for the next run.
    ``submitted`` clinics are submitted (default half of them): at a province's
    scale on a loaded machine each submit takes a minute.
    """
    from flask_migrate import upgrade

    from app.auth.models import User
    from app.extensions import db
    from app.factory import create_app
    from app.places.models import Clinic, Town, Village
    from app.settlement.documents import statement_document
    from app.settlement.figures import figures_by_clinic, month_close, month_figures
    from app.settlement.operations import submit_statement
    from app.settlement.queries import district_summary, statement_views
    from reports import render_statement
    from reports.fonts import cjk_font_name

    url = _database(url, database or f"yiyuan_bench_{scale}", fresh=not reuse, template=template)
    reuse = reuse or template is not None
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    now = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    with app.app_context():
        upgrade()
        generated = resume(db.engine, scale) if reuse else generate(db.engine, scale, budget=budget)
        report = Report(generated, db.engine.dialect.name, progress=progress)
        clinics = list(
            db.session.scalars(select(Clinic).join(Village).join(Town).order_by(Clinic.code))
        )
        ids = [c.id for c in clinics]
        district = generated.districts[0]
        in_district = [c for c in clinics if c.village_code.startswith(district)]

        # --- submit: one clinic's month frozen, against its bare aggregate -------------
        doctors = []
        for clinic in clinics[: submitted or len(clinics) // 2]:
            doctor = User(username=f"d{clinic.code}", password_hash="-", role="doctor",
                          clinic_id=clinic.id)  # fmt: skip
            db.session.add(doctor)
            doctors.append((clinic, doctor))
        db.session.commit()
        submits: list[float] = []
        aggregates: list[float] = []
        load = _load()
        for index, (clinic, doctor) in enumerate(doctors):
            steps = [
                (lambda c=clinic, d=doctor: submit_statement(c.code, MONTH, d, now), submits),
                (lambda c=clinic: month_figures(c.id, MONTH), aggregates),
            ]
            for fn, out in steps if index % 2 == 0 else steps[::-1]:
                start = time.perf_counter()
                fn()
                out.append(time.perf_counter() - start)
        report.add(
            Result(
                "submit one clinic's month (lock, aggregate, freeze, event)",
                statistics.median(submits) * 1000,
                statistics.median(aggregates) * 1000,
                "ms",
                "constant per clinic",
                f"median of {len(doctors)} clinics; limit: that clinic's one GROUP BY",
                (load, _load()),
            )
        )

        # --- the month close: every clinic, against one GROUP BY clinic -----------------
        # The submits committed, which expired every loaded clinic: load them again,
        # with their towns, as the summary and the render command do.
        clinics = [line.clinic for d in generated.districts
                   for line in district_summary(d, MONTH, None).lines]  # fmt: skip
        queries: list[str] = []

        def count(*args: Any) -> None:
            queries.append(str(args[2]))

        event.listen(db.engine, "before_cursor_execute", count)
        statement_views(clinics, MONTH)
        event.remove(db.engine, "before_cursor_execute", count)
        load = _load()
        ours, limit = side_by_side(
            lambda: statement_views(clinics, MONTH),
            lambda: figures_by_clinic(ids, MONTH),
            rounds,
        )
        load = _load()
        figures_only, limit = side_by_side(
            lambda: month_close(ids, MONTH, items=False),
            lambda: figures_by_clinic(ids, MONTH),
            rounds,
        )
        report.add(
            Result(
                f"every clinic's statement figures (totals and days), {len(clinics)} clinics",
                figures_only,
                limit,
                "s",
                "≤ 1.5×",
                "1 query, the clinic-day rollup; limit: one GROUP BY clinic over the visits",
                (load, _load()),
            )
        )
        report.add(
            Result(
                f"every clinic's whole statement (+ items, history), {len(clinics)} clinics",
                ours,
                limit,
                "s",
                "≤ 1.5×",
                f"{len(queries)} queries, days and items from the clinic-day and clinic-month "
                "item rollups; "
                "limit: one GROUP BY clinic over the month's visits",
                (load, _load()),
            )
        )
        # The items alone: the rollup read against the lines' GROUP BY it replaced.
        load = _load()
        rollup_s, lines_s = side_by_side(
            lambda: _items_from_rollup(ids),
            lambda: _items_from_lines(ids),
            rounds,
        )
        report.add(
            Result(
                "every clinic's item table alone: the rollup, against the lines",
                rollup_s,
                lines_s,
                "s",
                "—",
                "limit: GROUP BY clinic, item over the month's lines joined to their visits "
                "(the path before the rollup)",
                (load, _load()),
            )
        )
        views_peak = peak_memory(lambda: statement_views(clinics, MONTH))
        limit_peak = peak_memory(lambda: figures_by_clinic(ids, MONTH))
        report.add(
            Result(
                "peak Python memory of the month close",
                views_peak,
                limit_peak,
                "MB",
                "flat in visits",
                "tracemalloc; limit: the GROUP BY clinic's answer",
            )
        )

        # --- the district summary ---------------------------------------------------------
        district_ids = [c.id for c in in_district]
        load = _load()
        ours, limit = side_by_side(
            lambda: district_summary(district, MONTH, None),
            lambda: figures_by_clinic(district_ids, MONTH),
            rounds,
        )
        report.add(
            Result(
                f"district summary ({len(in_district)} clinics)",
                ours,
                limit,
                "s",
                "≤ 1.5×",
                "limit: one GROUP BY clinic over the district's visits",
                (load, _load()),
            )
        )

        # --- statement PDFs per page, against bare ReportLab ------------------------------
        font = cjk_font_name()
        views = statement_views(clinics[: max(1, pdfs)], MONTH)
        documents = [statement_document(v, now) for v in views]
        bare_rows: list[list[list[str]]] = []
        for document in documents:
            rows: list[list[str]] = [["日期", "人次", "项目内", "总费用", "基金", "兜底", "患者"]]
            rows += [
                [d.date, str(d.figures.visits), str(d.figures.programme_visits),
                 str(d.figures.total), str(d.figures.fund), str(d.figures.fiscal),
                 str(d.figures.patient)]
                for d in document.days
            ]  # fmt: skip
            rows += [
                [i.code, i.name, i.unit, i.quantity, str(i.amount), "", ""] for i in document.items
            ]
            bare_rows.append(rows)
        ours_pages = sum(_pages(render_statement(d)) for d in documents)  # also the warm-up
        bare_pages = sum(_pages(_bare_pdf("月度结算单", r, font)) for r in bare_rows)
        load = _load()
        # Each round renders every statement both ways, so a cold first render
        # (font tables, style sheets) is not charged to one side.
        ours_s, bare_s = side_by_side(
            lambda: [render_statement(d) for d in documents],
            lambda: [_bare_pdf("月度结算单", r, font) for r in bare_rows],
            rounds,
        )
        report.add(
            Result(
                f"statement PDF, per page ({len(documents)} statements, {ours_pages} pages)",
                ours_s / ours_pages * 1000,
                bare_s / max(bare_pages, 1) * 1000,
                "ms/page",
                "≤ 2×",
                f"bare: {bare_pages} pages, same rows and font, one process; "
                f"medians of {rounds} interleaved rounds after a warm-up",
                (load, _load()),
            )
        )
        db.session.remove()
        db.engine.dispose()
    report.add(_render_cli(url, generated.districts[0], workers))
    return report


def _render_cli(url: str, district: str, workers: int) -> Result:
    """``flask statements render`` of a whole district: ``workers`` processes against one.

    Each run is a fresh process tree; its peak resident memory (the largest
    process: parent or worker) is what "flat memory" is checked by.
    """
    import resource
    import subprocess
    import sys
    import tempfile

    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app.factory"}
    seconds: dict[int, float] = {}
    peak: dict[int, float] = {}
    load = _load()
    for count in (workers, 1):
        with tempfile.TemporaryDirectory() as out:
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "flask", "statements", "render", "--district", district,
                 "--month", MONTH, "--out", out, "--workers", str(count)],
                env=env, check=True, capture_output=True, timeout=3600,
            )  # fmt: skip
            seconds[count] = time.perf_counter() - start
            peak[count] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return Result(
        f"flask statements render, one district, {workers} workers",
        seconds[workers],
        seconds[1],
        "s",
        "parallel, flat memory",
        f"limit: the same with 1 worker; peak RSS {peak[workers] / 1024:.0f} MB",
        (load, _load()),
    )


def main() -> None:
    scale = os.environ.get("SCALE", "district")
    if scale not in SCALES:
        raise SystemExit(f"SCALE must be one of {', '.join(SCALES)}")
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    budget = float(os.environ.get("BENCH_BUDGET", "900"))
    # The app's 30 s guard is for requests; a province's rollup fill and the limits'
    # old-path reads run for minutes.
    os.environ.setdefault("DB_STATEMENT_TIMEOUT", "3600")
    reuse = os.environ.get("BENCH_REUSE") == "1"
    report = run(
        url,
        scale,
        rounds=int(os.environ.get("ROUNDS", "5")),
        budget=budget,
        database=os.environ.get("BENCH_DATABASE") or None,
        reuse=reuse,
        template=os.environ.get("BENCH_FROM") or None,
        submitted=int(os.environ.get("BENCH_SUBMITS", "0")) or None,
        progress=os.environ.get("BENCH_PROGRESS") == "1",
    )
    print(report.table(), flush=True)


if __name__ == "__main__":
    main()
