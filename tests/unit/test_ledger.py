"""Each figure is declared once (app.ledger.FIGURES) and everything else derives from it.

The two tests of adding a figure are the proof that it is a one-line edit (plus
the migration adding its column): one runs the derived SQL — the live
aggregate, the day rollup's upsert, take-off and rebuild — over a declaration
one figure longer, on a real SQLite database; the other adds the line to a
copy of the source and follows the figure into the type, the models, the
audit's state, the API schema, the labels and the CSV/XLSX exports.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.glossary import TERMS
from app.ledger import (
    COUNT_FIELDS,
    FIGURE_FIELDS,
    FIGURES,
    MONEY,
    MONEY_FIELDS,
    Figure,
    FigureKind,
    Figures,
    declare,
)
from app.visits.figures import DAY_KEY, FigureSql

ROOT = Path(__file__).resolve().parents[2]
# A figure the programme does not (yet) report: the lines' cost without the fees.
EXTRA = Figure("lines_total", "lines_total", MONEY, "lines_total")
EXTENDED = (*FIGURES, EXTRA)


def test_every_figure_has_a_glossary_term_in_both_languages() -> None:
    for figure in FIGURES:
        term = TERMS[figure.term]
        assert term.zh and term.en, figure.name
    assert len({f.term for f in FIGURES}) == len(FIGURES), "two figures share a label"


def test_the_derived_names_follow_the_declaration() -> None:
    assert tuple(f.name for f in FIGURES) == FIGURE_FIELDS
    assert COUNT_FIELDS + MONEY_FIELDS == FIGURE_FIELDS, "counts come first"
    assert {f.kind for f in FIGURES} == set(FigureKind)
    assert tuple(Figures.__dataclass_fields__) == FIGURE_FIELDS
    a, b = Figures(*range(len(FIGURES))), Figures(visits=2, fiscal=5)
    expected = tuple(x + b.as_dict()[n] for x, n in zip(a.values(), FIGURE_FIELDS, strict=True))
    assert (a + b).values() == expected


def test_a_figure_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        declare((*FIGURES, FIGURES[0]))


def _tables(figures: tuple[Figure, ...]) -> tuple[MetaData, Table, Table]:
    """A visit table with every figure's source and a day table with every figure:
    what the migration of an added figure makes of ``clinic_day``."""
    metadata = MetaData()
    sources = sorted({f.source for f in figures if f.source is not None})
    visit = Table(
        "visit",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("month", String(7)),
        Column("clinic_id", Integer),
        Column("visit_date", Date),
        Column("voided_at", DateTime),
        *(
            Column(name, Boolean if name in {"programme", "injection"} else Integer)
            for name in sources
        ),
    )
    day = Table(
        "clinic_day",
        metadata,
        Column("month", String(7), primary_key=True),
        Column("clinic_id", Integer, primary_key=True),
        Column("visit_date", Date, primary_key=True),
        *(Column(f.name, Integer, nullable=False) for f in figures),
    )
    return metadata, visit, day


def _visit(n: int, day: int, **money: int) -> dict[str, object]:
    row: dict[str, object] = {
        "id": n,
        "month": "2026-09",
        "clinic_id": 1,
        "visit_date": dt.date(2026, 9, day),
        "voided_at": None,
        "programme": n % 2 == 0,
        "injection": n % 3 == 0,
    }
    for source in ("total", "in_scope", "fund", "fiscal", "registration", "injection_fee",
                   "copay", "self_pay", "patient", "lines_total"):  # fmt: skip
        row[source] = money.get(source, n * 100 + len(source))
    return row


def test_an_added_figure_is_summed_stored_taken_off_and_rebuilt() -> None:
    sql = FigureSql(EXTENDED, *_tables(EXTENDED)[1:])
    metadata = sql.visit.metadata
    extended = sql.type
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    visits = [_visit(n, 1 + n % 3) for n in range(1, 8)]
    with engine.begin() as connection:
        # Recording: each visit inserted and added to its day (the upsert recording runs).
        for visit in visits:
            connection.execute(insert(sql.visit), visit)
            connection.execute(sql.day_upsert("sqlite"), sql.day_row(visit))
        # Voiding the third: flagged, its figures taken off its day.
        voided = visits[2]
        connection.execute(
            sql.visit.update()
            .where(sql.visit.c.id == voided["id"])
            .values(voided_at=dt.datetime(2026, 9, 30))
        )
        connection.execute(sql.day_take_off(voided))
        live = [v for v in visits if v is not voided]

        # The live aggregate sums the new figure like any other.
        row = connection.execute(
            select(*sql.aggregates()).where(sql.visit.c.voided_at.is_(None))
        ).one()
        month = sql.read(row)
        assert month.lines_total == sum(v["lines_total"] for v in live)
        assert month.visits == len(live)
        assert month.programme_visits == sum(bool(v["programme"]) for v in live)
        assert month.injections == sum(bool(v["injection"]) for v in live)
        assert month.fiscal == sum(v["fiscal"] for v in live)

        # The rollup, written visit by visit, equals the GROUP BY over the visits ...
        day_columns = [sql.day.c[key] for key in DAY_KEY]
        stored = {
            tuple(r[:3]): tuple(r[3:])
            for r in connection.execute(select(*day_columns, *sql.day_columns()))
        }
        names, rebuilt_rows = sql.day_rebuild("2026-09")
        rebuilt = {tuple(r[:3]): tuple(r[3:]) for r in connection.execute(rebuilt_rows)}
        assert names == [*DAY_KEY, *FIGURE_FIELDS, "lines_total"]
        assert stored == rebuilt
        # ... and its days add up to the month, the new figure included.
        total = sum((extended(*figures) for figures in stored.values()), extended())
        assert total.values() == tuple(row)
        assert connection.execute(select(func.count()).select_from(sql.day)).scalar_one() == 3


def test_an_added_figure_reaches_both_dialects_sql() -> None:
    sql = FigureSql(EXTENDED, *_tables(EXTENDED)[1:])
    aggregate = str(select(*sql.aggregates()).compile(dialect=postgresql.dialect()))
    assert "coalesce(sum(visit.lines_total), %(coalesce_" in aggregate
    assert "AS lines_total" in aggregate
    for dialect, module in (("sqlite", sqlite), ("postgresql", postgresql)):
        upsert = str(sql.day_upsert(dialect).compile(dialect=module.dialect()))
        assert "lines_total = (clinic_day.lines_total + excluded.lines_total)" in upsert
    assert "v.lines_total FROM new_visit" in sql.pg_day_part("new_visit")
    assert "lines_total = clinic_day.lines_total + excluded.lines_total" in sql.pg_day_part("v0")


ONE_LINE = '    Figure("lines_total", "lines_total", MONEY, "lines_total"),\n'
FOLLOW = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from types import SimpleNamespace
    from app import glossary
    # The new figure's words: a glossary term (the table every label is read from).
    glossary.TERMS["lines_total"] = glossary.Term(
        "lines_total", glossary.Group.MONEY, "药品及诊疗费", "Drugs and treatment",
        "处方各项金额之和。", "The lines of the prescription together.")
    from app.factory import create_app
    from app.ledger import FIGURE_FIELDS, Figures
    from app.periods.models import Statement
    from app.visits.models import ClinicDay
    from app.visits.figures import ledger_sql
    from app.visits.operations import _pg_write
    from app.audit.rules import statement_state
    from app.settlement.schemas import StatementFiguresSchema, StatementDaySchema
    from app.settlement.labels import figure_labels
    from app.settlement import exports
    from app.settlement.queries import StatementView
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})
    out = {}
    with app.test_request_context():
        f = Figures(visits=2, total=1000, lines_total=800)
        out["type"] = f.lines_total
        out["day_column"] = "lines_total" in ClinicDay.__table__.c
        out["statement_column"] = "lines_total" in Statement.__table__.c
        out["aggregate"] = str(select(*ledger_sql().aggregates()).compile(
            dialect=postgresql.dialect()))
        out["pg_write"] = _pg_write(False, False).text
        statement = SimpleNamespace(month="2026-09", status="submitted", paid_on=None,
            payment_reference=None, paid_amount=None, **f.as_dict())
        out["audit"] = statement_state(statement)["lines_total"]
        out["api"] = StatementFiguresSchema().dump(f)["lines_total"]
        out["api_day"] = StatementDaySchema().dump((dt.date(2026, 9, 1), f))["lines_total"]
        out["label"] = figure_labels()["lines_total"]
        view = StatementView(
            clinic=SimpleNamespace(code="C1", name="Clinic"), month="2026-09",
            status="open", figures=f, frozen=False, days=[(dt.date(2026, 9, 1), f)],
            items=[], history=[], paid=None)
        out["csv"] = b"".join(exports.statement_csv(view)).decode("utf-8-sig")
        out["fields"] = list(FIGURE_FIELDS)
    json.dump(out, sys.stdout)
    """
)


def test_adding_a_figure_is_one_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    ledger = tmp_path / "app" / "ledger.py"
    source = ledger.read_text()
    last = '    Figure("patient", "patient", MONEY, "patient"),\n'
    assert source.count(last) == 1
    ledger.write_text(source.replace(last, last + ONE_LINE))

    run = subprocess.run(
        [sys.executable, "-c", FOLLOW],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    import json

    out = json.loads(run.stdout)
    assert out["fields"][-1] == "lines_total"
    assert out["type"] == 800
    assert out["day_column"] and out["statement_column"]
    assert "coalesce(sum(visit.lines_total)" in out["aggregate"]
    assert "v.lines_total" in out["pg_write"]
    assert "lines_total = clinic_day.lines_total + excluded.lines_total" in out["pg_write"]
    assert out["audit"] == 800
    assert out["api"] == out["api_day"] == "8.00"
    assert out["label"] == "药品及诊疗费"
    csv = out["csv"]
    assert "药品及诊疗费,8.00" in csv  # the summary's row of the new figure
    header = next(line for line in csv.splitlines() if line.startswith("日期,"))
    assert header.endswith(",药品及诊疗费")
