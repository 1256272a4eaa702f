"""The schema: one migration head, no drift from the models, named CHECKs that fire."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.config import ROOT
from app.database import compared_schema
from app.extensions import db
from app.visits.models import FundUsage, Visit, VisitLine
from app.visits.partitions import ensure_month, is_partition
from tests.conftest import FixedClock
from tests.factories import build_world


def test_single_migration_head(app: Flask) -> None:
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app.factory", "db", "heads"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    heads = re.findall(r"^(\w+) \(head\)", result.stdout, re.MULTILINE)
    assert len(heads) == 1, result.stdout
    script = ScriptDirectory(str(ROOT / "migrations"))
    assert script.get_heads() == heads
    # …and the migrated database is at that head.
    with db.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == tuple(heads)


def test_migrations_match_the_models(app: Flask) -> None:
    """Autogenerate against the migrated database proposes nothing.

    As ``flask db migrate`` compares: without PostgreSQL's month partitions
    and the constraints of the other database (app.database.compared_schema).
    """
    with db.engine.connect() as conn:
        opts = {"compare_type": True, "render_as_batch": True}
        opts |= compared_schema(conn.dialect.name, is_partition)
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def good_visit(clinic_id: int, user_id: int, seq: int) -> dict[str, Any]:
    """A consistent visit row: the worked example's figures."""
    moment = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)
    return {
        "clinic_id": clinic_id,
        "resident_id": None,
        "patient_id_number": "440114199001019990",
        "visited_at": moment,
        "visit_date": dt.date(2026, 10, 15),
        "month": "2026-10",
        "year": 2026,
        "receipt_seq": seq,
        "receipt_number": f"HD001-2026-{seq:06d}",
        "policy_version_id": None,
        "programme": True,
        "insured": True,
        "reasons": "",
        "injection": True,
        "lines_total": 2270,
        "registration": 100,
        "injection_fee": 100,
        "in_scope": 1770,
        "self_pay": 500,
        "fund_base": 1735,
        "deductible_applied": 0,
        "fund": 1215,
        "fiscal": 555,
        "copay": 0,
        "patient": 700,
        "total": 2470,
        "recorded_by_id": user_id,
        "recorded_at": moment,
    }


# The four sum checks are mutually dependent (any three imply the fourth), so a
# row cannot break exactly one; each case names the checks its row breaks.
BAD_VISITS: dict[str, tuple[dict[str, Any], set[str]]] = {
    # total != patient + fund + fiscal
    "identity": ({"total": 2471}, {"identity", "total_parts"}),
    "total_parts": ({"registration": 101}, {"total_parts", "patient_parts"}),
    "patient_parts": ({"patient": 701}, {"identity", "patient_parts"}),
    "scope_parts": ({"copay": 1}, {"scope_parts", "patient_parts"}),
    "not_negative": ({"fund": -1, "fiscal": 1771}, {"not_negative"}),
    "fiscal_only_in_programme": ({"programme": False}, {"fiscal_only_in_programme"}),
    "void_has_reason": (
        {"voided_at": dt.datetime(2026, 10, 15, 3, 0, tzinfo=dt.UTC)},
        {"void_has_reason"},
    ),
}


@pytest.fixture
def ids(app: Flask, clock: FixedClock) -> tuple[int, int]:
    world = build_world(clock())
    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None
    ensure_month(db.engine, "2026-10")  # PostgreSQL: the rows below are inserted directly
    return world.clinic.id, doctor.id


def good_line(visit_id: int, line_no: int, in_scope: int, self_pay: int) -> dict[str, Any]:
    amount = in_scope + self_pay
    return {
        "visit_id": visit_id,
        "month": "2026-10",
        "line_no": line_no,
        "item_id": 1,
        "item_code": "DX001",
        "item_name": "一般诊疗费",
        "kind": "consultation",
        "unit": "次",
        "insurance_class": "A",
        "quantity": 1000,
        "unit_price": amount,
        "amount": amount,
        "in_scope": in_scope,
        "self_pay": self_pay,
        "fund_base": in_scope,
    }


def insert_good_visit(ids: tuple[int, int], seq: int = 1) -> int:
    """The worked-example visit with lines that sum to its lines_total (2270)."""
    visit_id = db.session.execute(
        insert(Visit).values(**good_visit(*ids, seq=seq)).returning(Visit.id)
    ).scalar_one()
    db.session.execute(insert(VisitLine).values(**good_line(visit_id, 1, 1770, 0)))
    db.session.execute(insert(VisitLine).values(**good_line(visit_id, 2, 0, 500)))
    return visit_id


def test_a_consistent_visit_row_is_accepted(ids: tuple[int, int]) -> None:
    insert_good_visit(ids)
    db.session.commit()


@pytest.mark.parametrize("case", sorted(BAD_VISITS))
def test_named_visit_checks_fire(ids: tuple[int, int], case: str) -> None:
    changes, broken = BAD_VISITS[case]
    with pytest.raises(IntegrityError) as err:
        db.session.execute(insert(Visit).values(**(good_visit(*ids, seq=1) | changes)))
        db.session.flush()
    db.session.rollback()
    message = str(err.value.orig)
    # Both databases name the failing constraint in the error.
    assert any(f"ck_visit_{name}" in message for name in broken), message
    assert db.session.scalar(select(Visit.id)) is None


def test_receipt_numbers_unique_per_clinic_and_year(ids: tuple[int, int]) -> None:
    db.session.execute(insert(Visit).values(**good_visit(*ids, seq=1)))
    again = good_visit(*ids, seq=1) | {"receipt_number": "HD001-2026-000001-dup"}
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Visit).values(**again))
    db.session.rollback()


def test_line_and_fund_usage_checks_fire(ids: tuple[int, int]) -> None:
    visit_id = insert_good_visit(ids)
    db.session.commit()
    line = good_line(visit_id, 1, 1000, 0)
    for bad in ({"line_no": 2, "amount": 999}, {"line_no": 3, "quantity": 0}):
        with pytest.raises(IntegrityError):
            db.session.execute(insert(VisitLine).values(**(line | bad)))
        db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(
            insert(FundUsage).values(resident_id=1, year=2026, fund_paid=-1, deductible_used=0)
        )
    db.session.rollback()
