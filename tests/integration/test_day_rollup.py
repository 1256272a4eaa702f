"""The clinic's day (issue 9): a rollup that equals the visits, always.

Recording a visit adds its figures to ``clinic_day`` and voiding it takes them
off, in the visit's own unit of work; the month close reads the rollup for every
clinic's days and totals.  Here, on SQLite and PostgreSQL: after many visits and
voids at several clinics and months the rollup equals the ``GROUP BY`` over the
non-voided visits exactly, every clinic's statement prints what a clinic's own
statement (summed from its visits) prints, the migration's backfill builds the
same rows, and ``flask statements check-rollup`` says so — or names the day
that differs.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEntry
from app.extensions import db
from app.places.models import Clinic
from app.settlement.figures import (
    day_rollup_differences,
    figures_by_clinic,
    figures_by_day,
    month_close,
    month_figures,
)
from app.settlement.models import StatementAdjustment
from app.settlement.operations import submit_statement
from app.settlement.queries import statement_row, statement_view, statement_views, verify_statement
from app.settlement.rules import FIGURE_FIELDS, Figures
from app.settlement.schemas import StatementDaySchema, StatementFiguresSchema
from app.visits.models import ClinicDay, Visit
from tests.conftest import FixedClock
from tests.factories import HUADU, build_world, past_the_rollup_check
from tests.integration.test_item_rollup import forty_visits
from tests.integration.test_settlement import user

REVISION = "c5e7d9a1b3f2"  # migrations/versions/…_clinic_day.py
MONTHS = ("2026-09", "2026-10")


@pytest.fixture
def many(app: Flask, clock: FixedClock) -> list[Visit]:
    return forty_visits(build_world(clock()), clock())


def rollup() -> dict[tuple[str, int, dt.date], Figures]:
    return {
        (r.month, r.clinic_id, r.visit_date): Figures(*(getattr(r, name) for name in FIGURE_FIELDS))
        for r in db.session.scalars(select(ClinicDay))
    }


def visits_grouped() -> dict[tuple[str, int, dt.date], Figures]:
    """The truth, summed in Python from every non-voided visit (not by the code under test)."""
    out: dict[tuple[str, int, dt.date], Figures] = {}
    for v in db.session.scalars(select(Visit).where(Visit.voided_at.is_(None))):
        one = Figures(
            visits=1,
            programme_visits=int(v.programme),
            injections=int(v.injection),
            total=v.total,
            in_scope=v.in_scope,
            fund=v.fund,
            fiscal=v.fiscal,
            registration=v.registration,
            injection=v.injection_fee,
            copay=v.copay,
            self_pay=v.self_pay,
            patient=v.patient,
        )
        key = (v.month, v.clinic_id, v.visit_date)
        out[key] = out.get(key, Figures()) + one
    return out


def assert_rollup_is_the_visits() -> None:
    db.session.rollback()
    rows = rollup()
    shown = {key: figures for key, figures in rows.items() if figures.visits > 0}
    emptied = [figures for figures in rows.values() if figures.visits == 0]
    assert shown == visits_grouped()
    assert all(figures == Figures() for figures in emptied)
    assert day_rollup_differences() == []


def test_the_rollup_equals_the_visits_after_visits_and_voids(app: Flask, many: list[Visit]) -> None:
    assert_rollup_is_the_visits()
    rows = rollup()
    # Some days lost every visit to a void (a row at zero), some kept a few.
    assert any(figures == Figures() for figures in rows.values())
    assert sum(f.visits for f in rows.values()) == len(many) - len(many[::3])  # every third voided
    assert {key[1] for key in rows} == {v.clinic_id for v in many}


def test_every_clinics_close_prints_what_one_clinics_statement_prints(
    app: Flask, many: list[Visit]
) -> None:
    everyone = list(db.session.scalars(select(Clinic).order_by(Clinic.code)))
    for month in MONTHS:
        close = month_close(None, month, items=False)
        assert close  # the fixture's visits fall in both months
        for clinic in everyone:
            days = figures_by_day(clinic.id, month)  # summed from the visits
            if not days:
                assert clinic.id not in close
                continue
            assert close[clinic.id].days == days
            assert close[clinic.id].figures == month_figures(clinic.id, month)
        for view in statement_views(everyone, month):
            single = statement_view(view.clinic.code, month, None)
            assert (view.figures, view.days) == (single.figures, single.days)


def test_the_statement_summary_and_submit_read_from_the_rollups_equal_the_visits(
    app: Flask, client: FlaskClient, clock: FixedClock
) -> None:
    """Issue 22 goal 2: the API statement, the district summary and submit's frozen
    figures read the day rollup; each equals the visits' own sum (summed in Python
    here and by the aggregate over the visits) in months with voids and adjustment lines."""
    world = build_world(clock())
    forty_visits(world, clock())
    hd002 = db.session.scalars(select(Clinic).where(Clinic.code == "HD002")).one()
    kept = db.session.scalars(
        select(Visit).where(Visit.clinic_id == hd002.id, Visit.voided_at.is_(None))
    ).first()
    assert kept is not None
    for source, amount in (("fund", 123), ("review", -450)):
        db.session.add(
            StatementAdjustment(
                clinic_id=hd002.id, statement_month=kept.month, belongs_to=kept.month,
                visit_id=kept.id, receipt_number=kept.receipt_number, source=source,
                outcome="different", reason="price_difference", fund_computed=kept.fund,
                fund_paid=kept.fund - amount, amount=amount, created_at=clock(),
            )
        )  # fmt: skip
    db.session.commit()
    truth = visits_grouped()
    everyone = list(db.session.scalars(select(Clinic).order_by(Clinic.code)))
    figures_schema, days_schema = StatementFiguresSchema(), StatementDaySchema(many=True)
    for month in MONTHS:
        from_visits = figures_by_clinic([c.id for c in everyone], month)
        summary = client.get(f"/api/v1/districts/{HUADU}/summaries/{month}",
                             headers=world.auth("reviewer"))  # fmt: skip
        assert summary.status_code == 200, summary.json
        rows = {row["clinic"]: row for row in summary.json["rows"]}
        for clinic in everyone:
            days = sorted(
                (day, f) for (m, c, day), f in truth.items() if m == month and c == clinic.id
            )
            total = sum((f for _, f in days), Figures())
            assert total == month_figures(clinic.id, month)
            assert days == figures_by_day(clinic.id, month)
            answer = client.get(f"/api/v1/statements/{clinic.code}/{month}",
                                headers=world.auth("reviewer"))  # fmt: skip
            assert answer.status_code == 200, answer.json
            assert answer.json["figures"] == figures_schema.dump(total)
            assert answer.json["days"] == days_schema.dump(days)
            page = statement_view(clinic.code, month, None)  # the papers' view, checks listed
            assert answer.json["checks"] == {
                "warned": page.checks.warned, "by_rule": page.checks.by_rule
            }  # fmt: skip
            lines = sum(a.amount for a in page.adjustments)
            assert (
                answer.json["backstop_due"]
                == figures_schema.dump(Figures(fiscal=total.fiscal + lines))["fiscal"]
            )
            if clinic.code in rows:
                expected = from_visits.get(clinic.id, Figures())
                assert rows[clinic.code]["figures"] == figures_schema.dump(expected)
    assert any(a.amount for a in statement_view("HD002", kept.month, None).adjustments)
    # Submit freezes the rollup's figures: verify_statement proves them against the visits.
    submit_statement("HD002", "2026-09", user("doctor2"), clock())
    assert statement_row(hd002.id, "2026-09") is not None
    assert verify_statement("HD002", "2026-09").ok
    frozen = statement_view("HD002", "2026-09", None, papers=False)
    assert frozen.frozen and frozen.figures == month_figures(hd002.id, "2026-09")


def test_the_migration_backfills_the_rollup_from_the_visits(app: Flask, many: list[Visit]) -> None:
    before = rollup()
    db.session.remove()
    downgrade(revision=f"{REVISION}-1")
    upgrade(revision=REVISION)
    upgrade()
    # The backfill has no emptied rows: only what the visits have.
    assert rollup() == {key: f for key, f in before.items() if f.visits > 0}
    assert_rollup_is_the_visits()


def test_check_rollup_names_the_day_that_differs(app: Flask, many: list[Visit]) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["statements", "check-rollup"])
    assert ok.exit_code == 0, ok.output
    assert "day rollup" in ok.output
    day = db.session.scalars(
        select(ClinicDay).where(ClinicDay.month == "2026-09", ClinicDay.visits > 0)
    ).first()
    assert day is not None
    clinic_id, visit_date = day.clinic_id, day.visit_date
    # Written outside the app: one fen moved from the fund to the backstop (the sums
    # still satisfy the identity, so only the check can tell).
    past_the_rollup_check(db.session)
    db.session.execute(
        text(
            "UPDATE clinic_day SET fund = fund - 1, fiscal = fiscal + 1 "
            "WHERE clinic_id = :c AND visit_date = :d"
        ),
        {"c": clinic_id, "d": visit_date},
    )
    db.session.commit()
    bad = runner.invoke(args=["statements", "check-rollup", "--month", "2026-09"])
    assert bad.exit_code == 1
    assert f"clinic {clinic_id} {visit_date}" in bad.output
    assert "fund" in bad.output and "fiscal" in bad.output and "total" not in bad.output
    assert "1 day row(s) differ" in bad.output
    assert runner.invoke(args=["statements", "check-rollup", "--month", "2026-10"]).exit_code == 0


def test_the_identity_holds_in_the_database_for_the_sums_too(app: Flask, many: list[Visit]) -> None:
    db.session.rollback()
    with pytest.raises(IntegrityError, match=r"(?i)identity|check"):
        db.session.execute(text("UPDATE clinic_day SET fund = fund + 1 WHERE visits > 0"))
        db.session.flush()
    db.session.rollback()


def test_rebuild_rollups_repairs_what_check_rollup_found(app: Flask, many: list[Visit]) -> None:
    runner = app.test_cli_runner()
    past_the_rollup_check(db.session)
    db.session.execute(text("UPDATE clinic_day SET visits = visits + 1 WHERE month = '2026-09'"))
    db.session.execute(
        text("UPDATE clinic_month_item SET amount = amount + 1 WHERE month = '2026-09'")
    )
    db.session.commit()
    assert runner.invoke(args=["statements", "check-rollup"]).exit_code == 1
    october = rollup()
    assert (
        runner.invoke(args=["statements", "rebuild-rollups", "--month", "2026-13"]).exit_code == 2
    )

    done = runner.invoke(args=["statements", "rebuild-rollups", "--month", "2026-09"])
    assert done.exit_code == 0, done.output
    days = sum(1 for key, f in visits_grouped().items() if key[0] == "2026-09")
    assert f"2026-09: {days} day rows and " in done.output
    ok = runner.invoke(args=["statements", "check-rollup"])
    assert ok.exit_code == 0, ok.output
    assert_rollup_is_the_visits()
    # October was not touched: its rows (emptied ones included) are as they were.
    assert {k: f for k, f in rollup().items() if k[0] == "2026-10"} == {
        k: f for k, f in october.items() if k[0] == "2026-10"
    }
    # The whole history at once gives the same rows, without the emptied ones.
    assert runner.invoke(args=["statements", "rebuild-rollups"]).exit_code == 0
    assert rollup() == visits_grouped()
    # Each rebuild is in the audit log, by the operator, with what it wrote; the log verifies.
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "rollup.rebuild").order_by(AuditEntry.seq)
    ).all()
    assert [(e.actor, e.object_key) for e in entries] == [("cli", "2026-09"), ("cli", "all")]
    assert json.loads(entries[0].after or "{}")["day_rows"] == days
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


# --- the invariant in PostgreSQL (migration e1a9c3b5d7f2) ---------------------------


@pytest.mark.one_database("postgresql")
def test_postgresql_refuses_a_day_that_differs_from_its_visits(
    app: Flask, many: list[Visit]
) -> None:
    db.session.commit()
    tampers = (
        # the rollup edited: one fen moved from the fund to the backstop
        "UPDATE clinic_day SET fund = fund - 1, fiscal = fiscal + 1 "
        "WHERE month = '2026-09' AND visits > 0",
        # a visit's money edited, its day left as it was (the identity still holds)
        "UPDATE visit SET fund = fund - 1, fiscal = fiscal + 1 "
        "WHERE id = (SELECT min(id) FROM visit WHERE voided_at IS NULL AND fund > 0)",
        # a visit voided behind the app's back: its day still counts it
        "UPDATE visit SET voided_at = recorded_at, void_reason = 'x' "
        "WHERE id = (SELECT min(id) FROM visit WHERE voided_at IS NULL)",
        # a day row deleted while its visits stand
        "DELETE FROM clinic_day WHERE month = '2026-09' AND visits > 0",
    )
    for tamper in tampers:
        # Deferred: the statement itself passes, the commit is refused.
        db.session.execute(text(tamper))
        with pytest.raises(IntegrityError, match="clinic_day_is_its_visits"):
            db.session.commit()
        db.session.rollback()
    assert day_rollup_differences() == []
    # What the app writes commits (forty visits and their voids above), and so does a
    # rebuild, which checks no row one by one.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["statements", "rebuild-rollups"]).exit_code == 0
    assert rollup() == visits_grouped()


@pytest.mark.one_database("postgresql")
def test_the_database_checks_the_declared_figures(app: Flask) -> None:
    """The trigger's function is the one app.visits.figures derives from the declaration."""
    from app.visits.figures import ledger_sql

    installed = db.session.scalar(
        text("SELECT prosrc FROM pg_proc WHERE proname = 'clinic_day_is_its_visits'")
    )
    assert installed == ledger_sql().pg_day_check()
