"""The figures in SQL, derived from their one declaration (:data:`app.ledger.FIGURES`).

Guarantees:

* every figure is summed the same way wherever it is summed: the live
  aggregate over the visits (a statement, a day, a summary), the rebuild of
  the day rollup, a visit's addition to its clinic's day (the SQLite upsert
  and the PostgreSQL ``WITH`` part) and a void's take-off all come from
  :class:`FigureSql`, which reads only the declaration — a COUNT figure
  counts the visits, a FLAG figure counts the visits whose flag is set, a
  MONEY figure sums its visit column in fen;
* no figure's name or column is written here: a figure added to the
  declaration (and to ``clinic_day`` by a migration) is summed, stored, taken
  off and rebuilt with no other change;
* the aggregate counts only what the caller selects: the callers add
  ``voided_at IS NULL`` (a statement equals the sum of its non-voided visits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, func, select, update

from app.database import accumulate_statement
from app.extensions import db
from app.ledger import FIGURES, Figure, FigureKind, Figures, declare
from app.localtime import start_of_local_day
from app.visits.models import ClinicDay, Visit

VISIT = cast(Table, Visit.__table__)
CLINIC_DAY = cast(Table, ClinicDay.__table__)
# The day rollup's key: a visit adds to the row of its clinic's day.
DAY_KEY = ("month", "clinic_id", "visit_date")
# Set (transaction-local) by a rebuild of the rollup from the visits: the rows it
# writes are the GROUP BY itself, not checked one by one (PostgreSQL).
REBUILD_SETTING = "yiyuan.rollup_rebuild"


class FigureSql:
    """The SQL of a declaration of figures over a visit table and a day table."""

    def __init__(
        self, figures: Sequence[Figure], visit: Table = VISIT, day: Table = CLINIC_DAY
    ) -> None:
        self.figures = tuple(figures)
        self.names = [f.name for f in self.figures]
        # The app's Figures for the app's declaration, a type of their own for another.
        self.type: type[Figures] = Figures if self.figures == FIGURES else declare(self.figures)
        self.visit = visit
        self.day = day

    # --- summed from the visits -------------------------------------------------

    def summed(self, figure: Figure) -> ColumnElement[Any]:
        """One figure over the selected visits (0 over none), labelled with its name."""
        v = self.visit.c
        if figure.kind is FigureKind.COUNT:
            expression: ColumnElement[Any] = func.count(v.id)
        elif figure.kind is FigureKind.FLAG:
            expression = func.coalesce(func.sum(case((v[_source(figure)], 1), else_=0)), 0)
        else:
            expression = func.coalesce(func.sum(v[_source(figure)]), 0)
        return expression.label(figure.name)

    def aggregates(self) -> list[ColumnElement[Any]]:
        """Every figure over the selected visits, in declaration order."""
        return [self.summed(f) for f in self.figures]

    # --- one visit's share of its clinic's day ----------------------------------

    def day_row(self, visit: Mapping[str, Any]) -> dict[str, Any]:
        """A visit's figures (``visit``: its column values) as its clinic's day adds them."""
        row = {key: visit[key] for key in DAY_KEY}
        for figure in self.figures:
            if figure.kind is FigureKind.COUNT:
                row[figure.name] = 1
            elif figure.kind is FigureKind.FLAG:
                row[figure.name] = int(bool(visit[_source(figure)]))
            else:
                row[figure.name] = visit[_source(figure)]
        return row

    def day_upsert(self, dialect: str) -> Any:
        """Add day rows to the rollup, creating missing ones (``SET c = c + excluded.c``)."""
        return accumulate_statement(dialect, self.day, self.names)

    def day_take_off(self, visit: Mapping[str, Any]) -> Any:
        """Take a voided visit's figures off its clinic's day: one UPDATE."""
        row = self.day_row(visit)
        c = self.day.c
        return (
            update(self.day)
            .where(*(c[key] == row[key] for key in DAY_KEY))
            .values({name: c[name] - row[name] for name in self.names})
        )

    def pg_day_part(self, new_visit: str) -> str:
        """PostgreSQL: the ``INSERT … ON CONFLICT`` adding the visit of CTE ``new_visit``
        to its day, for a data-modifying ``WITH`` (identifiers from the declaration only)."""
        values = []
        for figure in self.figures:
            if figure.kind is FigureKind.COUNT:
                values.append("1")
            elif figure.kind is FigureKind.FLAG:
                values.append(f"CAST(v.{_source(figure)} AS integer)")
            else:
                values.append(f"v.{_source(figure)}")
        table = self.day.name
        names = ", ".join(self.names)
        added = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in self.names)
        return (
            f"INSERT INTO {table} ({', '.join(DAY_KEY)}, {names})\n"
            f"SELECT {', '.join(f'v.{k}' for k in DAY_KEY)}, {', '.join(values)} "
            f"FROM {new_visit} AS v\n"
            f"ON CONFLICT ({', '.join(DAY_KEY)}) DO UPDATE SET {added}"
        )

    def day_rebuild(self, month: str | None) -> tuple[list[str], Any]:
        """The day rollup's columns and the ``SELECT`` that refills them from the visits."""
        v = self.visit.c
        keys = [v[key] for key in DAY_KEY]
        live = [v.voided_at.is_(None)] + ([v.month == month] if month else [])
        rows = select(*keys, *self.aggregates()).where(*live).group_by(*keys)
        return [*DAY_KEY, *self.names], rows

    # --- the invariant in PostgreSQL ---------------------------------------------

    def pg_day_check(self) -> str:
        """PostgreSQL: the body of ``clinic_day_is_its_visits()``, the deferred constraint
        trigger function proving a day row equals its non-voided visits at commit.

        It runs for each ``clinic_day`` row written and each ``visit`` row updated or
        deleted (the old and the new day); a row missing from the rollup counts as
        zeros.  As :func:`day_figures`, it finds the day's visits by the clinic's
        ``(clinic_id, visited_at)`` index (the Asia/Shanghai day), ``visit_date``
        keeping the meaning exact: its cost is the day's visits, not the month's.
        A transaction that rebuilds the rollup from the visits
        (:func:`app.visits.operations.fill_rollups`) sets ``yiyuan.rollup_rebuild``
        and is not checked row by row: what it writes is the ``GROUP BY`` itself.
        """
        sums = []
        for figure in self.figures:
            if figure.kind is FigureKind.COUNT:
                sums.append(f"count(*) AS {figure.name}")
            elif figure.kind is FigureKind.FLAG:
                sums.append(
                    f"coalesce(sum(CASE WHEN v.{_source(figure)} THEN 1 ELSE 0 END), 0)"
                    f" AS {figure.name}"
                )
            else:
                sums.append(f"coalesce(sum(v.{_source(figure)}), 0) AS {figure.name}")
        stored = ", ".join(f"coalesce(d.{name}, 0)" for name in self.names)
        summed = ", ".join(f"s.{name}" for name in self.names)
        day = self.day.name
        return f"""
DECLARE
    months text[];
    clinics integer[];
    days date[];
    differs boolean;
BEGIN
    IF current_setting('{REBUILD_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        months := ARRAY[NEW.month]; clinics := ARRAY[NEW.clinic_id]; days := ARRAY[NEW.visit_date];
    ELSIF TG_OP = 'DELETE' THEN
        months := ARRAY[OLD.month]; clinics := ARRAY[OLD.clinic_id]; days := ARRAY[OLD.visit_date];
    ELSE
        months := ARRAY[OLD.month, NEW.month];
        clinics := ARRAY[OLD.clinic_id, NEW.clinic_id];
        days := ARRAY[OLD.visit_date, NEW.visit_date];
    END IF;
    FOR i IN 1 .. array_length(months, 1) LOOP
        SELECT ROW({stored}) IS DISTINCT FROM ROW({summed}) INTO differs
        FROM (
            SELECT {", ".join(sums)}
            FROM {self.visit.name} AS v
            WHERE v.month = months[i] AND v.clinic_id = clinics[i]
              AND v.visited_at >= days[i]::timestamp AT TIME ZONE 'Asia/Shanghai'
              AND v.visited_at < (days[i] + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'
              AND v.visit_date = days[i] AND v.voided_at IS NULL
        ) AS s
        LEFT JOIN {day} AS d
            ON d.month = months[i] AND d.clinic_id = clinics[i] AND d.visit_date = days[i];
        IF differs THEN
            RAISE EXCEPTION 'clinic_day_is_its_visits: clinic % on % differs from its visits',
                clinics[i], days[i]
                USING ERRCODE = 'check_violation', CONSTRAINT = 'clinic_day_is_its_visits';
        END IF;
    END LOOP;
    RETURN NULL;
END
"""

    # --- read back --------------------------------------------------------------

    def read(self, row: Any) -> Figures:
        """The figures of a row holding them by name (an aggregate's, a rollup's, a statement's)."""
        mapping = row._mapping if hasattr(row, "_mapping") else None
        if mapping is not None:
            return self.type(**{name: int(mapping[name]) for name in self.names})
        return self.type(**{name: int(getattr(row, name)) for name in self.names})

    def day_columns(self) -> list[Any]:
        return [self.day.c[name] for name in self.names]


def _source(figure: Figure) -> str:
    assert figure.source is not None, f"figure {figure.name} sums no column"
    return figure.source


@cache
def ledger_sql() -> FigureSql:
    """The app's figures (:data:`app.ledger.FIGURES`) over its tables."""
    return FigureSql(FIGURES)


def day_figures(clinic_id: int, day: dt.date) -> Figures:
    """One Asia/Shanghai day at a clinic: the doctor's daily close (日结)."""
    # The visited_at range lets the (clinic_id, visited_at) index of the
    # today page serve the close too; visit_date keeps the meaning exact.
    sql = ledger_sql()
    row = db.session.execute(
        select(*sql.aggregates()).where(
            Visit.clinic_id == clinic_id,
            Visit.visited_at >= start_of_local_day(day),
            Visit.visited_at < start_of_local_day(day + dt.timedelta(days=1)),
            Visit.visit_date == day,
            Visit.voided_at.is_(None),
        )
    ).one()
    return sql.read(row)
