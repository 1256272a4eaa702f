"""The audit chain (issue 8, SPEC §8): every tamper of the issue is caught by ``audit verify``.

Each test builds a small history through the operations (visits recorded and
voided, statements submitted, reviewed and batch-paid, users, tokens), then
changes the database behind the app's back the way the issue's auditor did,
and shows ``flask audit verify`` naming it and exiting non-zero.  On
PostgreSQL the audit table refuses UPDATE, DELETE and TRUNCATE outright; on
SQLite (a file anyone with access can edit) the chain itself shows the edit.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.audit.models import AuditChain, AuditEntry
from app.audit.rules import Entry, clinic_chain, seal
from app.auth.models import User
from app.catalog.models import ItemPrice
from app.database import unit_of_work
from app.extensions import db
from app.integrity.verify import verify
from app.oversight.checks import screen
from app.settlement.figures import item_rollup_differences
from app.settlement.models import Statement
from app.settlement.operations import (
    BatchPayment,
    pay_reviewed_statements,
    review_statement,
    submit_statement,
)
from app.settlement.queries import verify_statement
from app.visits.figures import REBUILD_SETTING
from app.visits.models import Visit, VisitLine
from app.visits.operations import LineRequest, VisitRequest, record_visit, void_visit
from tests.conftest import FixedClock
from tests.factories import HUADU, World, build_world

SEPT = "2026-09"
WORKED = (("DX001", "1"), ("AMX01", "12"), ("FFGC1", "1"), ("HY001", "1"))


def user(username: str) -> User:
    found = db.session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def record(world: World, now: dt.datetime, at: dt.datetime | None, clinic: str = "HD001") -> Visit:
    request = VisitRequest(
        clinic=clinic,
        patient_id_number=world.ids["insured_village"],
        injection=True,
        lines=tuple(LineRequest(item, qty) for item, qty in WORKED),
        visited_at=at,
    )
    visit, _ = record_visit(
        request, user("doctor" if clinic == "HD001" else "doctor2"), now, screen=screen
    )
    return visit


@dataclass(frozen=True)
class Ref:
    id: int
    receipt_number: str


def ref(visit: Visit) -> Ref:
    return Ref(visit.id, visit.receipt_number)


@dataclass
class History:
    world: World
    frozen: Ref  # a September visit, its month reviewed and paid
    voided: Ref  # a September visit voided before the submit
    open: Ref  # an October visit, its month still open


@pytest.fixture
def history(app: Flask, clock: FixedClock) -> History:
    now = clock()
    world = build_world(now)
    sept = dt.datetime(2026, 9, 10, 2, 0, tzinfo=dt.UTC)
    frozen = record(world, now, sept)
    record(world, now, sept + dt.timedelta(hours=1))
    voided = record(world, now, sept + dt.timedelta(hours=2))
    void_visit(voided.id, "entered twice", user("doctor"), now)
    record(world, now, sept, clinic="HD002")
    for clinic, doctor in (("HD001", "doctor"), ("HD002", "doctor2")):
        submit_statement(clinic, SEPT, user(doctor), now)
        review_statement(clinic, SEPT, user("reviewer"), now)
    due = db.session.scalar(select(func.sum(Statement.fiscal)).where(Statement.month == SEPT))
    batch = BatchPayment(dt.date(2026, 10, 14), "BANK-0001", 2, int(due or 0))
    pay_reviewed_statements(HUADU, SEPT, batch, user("finance"), now)
    result = History(world, ref(frozen), ref(voided), ref(record(world, now, None)))
    db.session.remove()
    return result


def tamper(*statements: str, **params: object) -> None:
    """Change the database behind the app's back, in one transaction.

    On SQLite whoever can write the file can drop the audit table's guard
    triggers, which an edit of the audit table does first.  On PostgreSQL it
    goes past the check that the day rollup equals its visits (migration
    e1a9c3b5d7f2), as a rebuild is: what is tampered here is what the chain
    must catch.
    """
    if db.engine.dialect.name == "sqlite" and any("audit_entry" in s for s in statements):
        statements = (
            "DROP TRIGGER IF EXISTS audit_entry_no_update",
            "DROP TRIGGER IF EXISTS audit_entry_no_delete",
            *statements,
        )
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.set_config(REBUILD_SETTING, "on", True)))
        for statement in statements:
            conn.execute(text(statement), params)


def drop_sqlite_line_triggers(dialect: str) -> None:
    """On SQLite anyone who can write the file can drop a trigger; do so first."""
    if dialect == "sqlite":
        names = (
            "visit_lines_total_update",
            "visit_line_lines_total_insert",
            "visit_line_lines_total_update",
            "visit_line_lines_total_delete",
        )
        tamper(*(f"DROP TRIGGER {name}" for name in names))


def findings() -> list[str]:
    db.session.remove()
    return [str(f) for f in verify().findings]


def cli_verify(app: Flask) -> tuple[int, str]:
    db.session.remove()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


# --- a clean history --------------------------------------------------------------


def test_a_clean_database_verifies_clean(app: Flask, history: History) -> None:
    code, output = cli_verify(app)
    assert code == 0, output
    assert "clean" in output
    chains = set(db.session.scalars(select(AuditChain.chain)))
    assert chains == {"system", clinic_chain("HD001"), clinic_chain("HD002")}
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {
        "user.create",
        "token.issue",
        "visit.record",
        "visit.void",
        "statement.submit",
        "statement.review",
        "statement.pay",
        "statement.batch_pay",
    } <= actions


def test_each_write_appends_one_entry_to_its_clinic_chain(history: History) -> None:
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.chain == clinic_chain("HD001")).order_by(AuditEntry.seq)
    ).all()
    # 3 September visits, 1 void, submit, review, pay, 1 October visit.
    assert [e.action for e in entries] == [
        "visit.record",
        "visit.record",
        "visit.record",
        "visit.void",
        "statement.submit",
        "statement.review",
        "statement.pay",
        "visit.record",
    ]
    assert [e.seq for e in entries] == list(range(1, 9))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    head = db.session.get(AuditChain, clinic_chain("HD001"))
    assert head is not None and (head.last_seq, head.last_hash) == (8, entries[-1].hash)


def test_a_refused_write_leaves_no_entry(app: Flask, history: History, clock: FixedClock) -> None:
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(Exception, match="paid"):
        record(history.world, clock(), dt.datetime(2026, 9, 12, 2, 0, tzinfo=dt.UTC))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert findings() == []


# --- the tampers -------------------------------------------------------------


def test_update_of_an_open_month_visit_and_its_line_is_caught(
    app: Flask, history: History, dialect: str
) -> None:
    drop_sqlite_line_triggers(dialect)
    # 10.00 more backstop: every CHECK still holds, and the lines still sum.
    tamper(
        "UPDATE visit SET lines_total = lines_total + 1000, in_scope = in_scope + 1000, "
        "fiscal = fiscal + 1000, total = total + 1000 WHERE id = :id",
        "UPDATE visit_line SET amount = amount + 1000, in_scope = in_scope + 1000, "
        "unit_price = unit_price + 1000 WHERE visit_id = :id AND line_no = 1",
        id=history.open.id,
    )
    found = findings()
    where = f"visit {history.open.id} ({history.open.receipt_number})"
    assert any(f.startswith(f"{where}: fiscal is ") for f in found), found
    assert any(f.startswith(f"{where}: lines is ") for f in found), found
    code, output = cli_verify(app)
    assert code == 1 and "fiscal is" in output


def test_editing_a_visit_and_its_frozen_statement_is_caught(
    app: Flask, history: History, dialect: str
) -> None:
    drop_sqlite_line_triggers(dialect)
    tamper(
        "UPDATE visit SET self_pay = self_pay + 1000, patient = patient + 1000, "
        "lines_total = lines_total + 1000, total = total + 1000 WHERE id = :id",
        "UPDATE visit_line SET amount = amount + 1000, self_pay = self_pay + 1000 "
        "WHERE visit_id = :id AND line_no = 1",
        "UPDATE statement SET self_pay = self_pay + 1000, patient = patient + 1000, "
        "total = total + 1000 WHERE month = '2026-09' AND clinic_id = "
        "(SELECT clinic_id FROM visit WHERE id = :id)",
        id=history.frozen.id,
    )
    # The statement still equals its visits: the old check sees nothing…
    assert verify_statement("HD001", SEPT).problems == []
    # …the chain does.
    found = findings()
    assert any(f.startswith("statement HD001/2026-09: total is ") for f in found), found
    assert any(f.startswith(f"visit {history.frozen.id} ") and "total is" in f for f in found)
    assert cli_verify(app)[0] == 1


def test_deleting_a_review_event_is_caught(app: Flask, history: History) -> None:
    tamper("DELETE FROM statement_event WHERE action = 'review'")
    found = findings()
    assert any("HD001/2026-09 history row" in f and "(review)" in f for f in found), found
    assert all("gone (deleted)" in f for f in found), found
    assert cli_verify(app)[0] == 1


def test_editing_an_event_is_caught(history: History) -> None:
    tamper("UPDATE statement_event SET reason = 'approved by phone' WHERE action = 'review'")
    assert any("reason is 'approved by phone'" in f for f in findings())


def test_unvoiding_a_visit_is_caught(app: Flask, history: History) -> None:
    tamper(
        "UPDATE visit SET voided_at = NULL, voided_by_id = NULL, void_reason = NULL WHERE id = :id",
        id=history.voided.id,
    )
    found = findings()
    assert f"visit {history.voided.id} ({history.voided.receipt_number}): voided is False, " \
        "last audited True" in found, found  # fmt: skip
    assert cli_verify(app)[0] == 1


def insert_copy_of_visit(visit_id: int) -> None:
    """A visit (and its lines) written straight into the tables, as before the chain."""
    columns = [c.name for c in Visit.__table__.columns if c.name != "id"]
    listed = ", ".join(columns)
    values = ", ".join(
        "'HD001-2026-999999'" if c == "receipt_number" else ("999999" if c == "receipt_seq" else c)
        for c in columns
    )
    line_columns = ", ".join(c.name for c in VisitLine.__table__.columns if c.name != "id")
    line_values = line_columns.replace("visit_id", "(SELECT MAX(id) FROM visit)")
    tamper(
        f"INSERT INTO visit ({listed}) SELECT {values} FROM visit WHERE id = :id",
        f"INSERT INTO visit_line ({line_columns}) SELECT {line_values} FROM visit_line "
        "WHERE visit_id = :id",
        id=visit_id,
    )


def test_a_visit_inserted_behind_the_app_is_caught(history: History) -> None:
    insert_copy_of_visit(history.frozen.id)
    assert any("never audited" in f and "HD001-2026-999999" in f for f in findings())


def test_adopt_brings_rows_from_before_the_chain_in_once(app: Flask, history: History) -> None:
    insert_copy_of_visit(history.frozen.id)
    tamper("UPDATE visit SET voided_at = NULL, voided_by_id = NULL, void_reason = NULL "
           "WHERE id = :id", id=history.voided.id)  # fmt: skip
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "adopt", "--yes"])
    assert result.exit_code == 0 and "adopted 1 visits, 0 statements, 0 history" in result.output
    # The adopted visit now verifies; the tampered audited one is still a finding.
    assert findings() == [
        f"visit {history.voided.id} ({history.voided.receipt_number}): voided is False, "
        "last audited True"
    ]
    assert "adopted 0 visits" in runner.invoke(args=["audit", "adopt", "--yes"]).output


@pytest.mark.one_database("sqlite")  # PostgreSQL refuses the edit itself
def test_adopt_a_whole_database_from_before_the_chain(
    app: Flask, history: History, dialect: str
) -> None:
    tamper("DELETE FROM audit_entry", "DELETE FROM audit_chain")
    assert len(findings()) > 5
    result = app.test_cli_runner().invoke(args=["audit", "adopt", "--yes"])
    # 5 visits; HD001 and HD002 September (3 history rows each), HD001 October (open).
    assert "adopted 5 visits, 2 statements, 6 history rows" in result.output, result.output
    assert findings() == []


def test_a_laundered_void_is_caught(app: Flask, history: History, clock: FixedClock) -> None:
    """A tampered open visit then voided by the app: the void's entry shows the money moved."""
    drop_sqlite_line_triggers(db.engine.dialect.name)
    tamper(
        "UPDATE visit SET self_pay = self_pay + 1000, patient = patient + 1000, "
        "lines_total = lines_total + 1000, total = total + 1000 WHERE id = :id",
        "UPDATE visit_line SET amount = amount + 1000, self_pay = self_pay + 1000 "
        "WHERE visit_id = :id AND line_no = 1",
        id=history.open.id,
    )
    if db.engine.dialect.name == "postgresql":
        # PostgreSQL refuses the laundering itself: the void would leave the visit's
        # day differing from its visits (migration e1a9c3b5d7f2).
        with pytest.raises(IntegrityError, match="clinic_day_is_its_visits"):
            void_visit(history.open.id, "wrong patient", user("doctor"), clock())
        db.session.rollback()
        return
    void_visit(history.open.id, "wrong patient", user("doctor"), clock())
    found = findings()
    assert any("visit.void" in f and "which it never changes" in f for f in found), found
    # The void took the edited lines off the clinic's month per item: the rollup check sees it too.
    assert item_rollup_differences() != []


# --- the audit table itself --------------------------------------------------------------


def test_update_and_delete_of_entries_are_refused(history: History, dialect: str) -> None:
    for statement in (
        "UPDATE audit_entry SET actor = 'nobody' WHERE seq = 1",
        "DELETE FROM audit_entry WHERE seq = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    assert findings() == []


@pytest.mark.one_database("postgresql")  # the append-only trigger is PostgreSQL's
def test_postgresql_refuses_update_delete_truncate(history: History) -> None:
    for statement in (
        "UPDATE audit_entry SET actor = 'nobody' WHERE seq = 1",
        "DELETE FROM audit_entry WHERE seq = 1",
        "TRUNCATE audit_entry",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            tamper(statement)
    assert findings() == []


@pytest.mark.one_database("sqlite")  # PostgreSQL refuses the edit itself
def test_an_edited_entry_is_caught(app: Flask, history: History, dialect: str) -> None:
    tamper(
        "UPDATE audit_entry SET after = replace(after, :was, :now) WHERE action = 'visit.void'",
        was='"voided":true',
        now='"voided":false',
    )
    found = findings()
    assert any("content does not match its hash (edited)" in f for f in found), found
    assert cli_verify(app)[0] == 1


@pytest.mark.one_database("sqlite")  # PostgreSQL refuses the edit itself
def test_a_deleted_entry_is_caught(history: History, dialect: str) -> None:
    tamper("DELETE FROM audit_entry WHERE chain = 'clinic:HD001' AND seq = 3")
    found = findings()
    assert "chain clinic:HD001 #4: entries #3 are missing (deleted)" in found, found


@pytest.mark.one_database("sqlite")  # PostgreSQL refuses the edit itself
def test_a_deleted_last_entry_is_caught(history: History, dialect: str) -> None:
    tamper("DELETE FROM audit_entry WHERE chain = 'clinic:HD001' AND seq = 8")
    found = findings()
    assert any(f.startswith("chain clinic:HD001: head says #8") for f in found), found
    assert any("was audited" not in f and "never audited" in f for f in found), found


@pytest.mark.one_database("sqlite")  # PostgreSQL refuses the edit itself
def test_reordered_entries_are_caught(history: History, dialect: str) -> None:
    tamper(
        "UPDATE audit_entry SET seq = -1 WHERE chain = 'clinic:HD001' AND seq = 2",
        "UPDATE audit_entry SET seq = 2 WHERE chain = 'clinic:HD001' AND seq = 3",
        "UPDATE audit_entry SET seq = 3 WHERE chain = 'clinic:HD001' AND seq = -1",
    )
    found = findings()
    assert any(f.startswith("chain clinic:HD001 #2:") and "reordered" in f for f in found), found
    assert any("edited" in f for f in found), found


@pytest.mark.one_database("sqlite")  # PostgreSQL refuses the edit itself
def test_an_inserted_entry_is_caught(history: History, dialect: str) -> None:
    # A well-formed, correctly hashed entry slipped in after #4, later ones renumbered.
    chain = clinic_chain("HD001")
    prev = db.session.scalar(
        select(AuditEntry.hash).where(AuditEntry.chain == chain, AuditEntry.seq == 4)
    )
    assert prev is not None
    db.session.remove()
    forged = seal(
        Entry(chain, 5, dt.datetime(2026, 10, 15, tzinfo=dt.UTC), "doctor", "visit.void",
              "visit", "1", None, {"voided": True}, prev)
    )  # fmt: skip
    tamper(
        "UPDATE audit_entry SET seq = seq + 100 WHERE chain = :chain AND seq > 4",
        "UPDATE audit_entry SET seq = seq - 99 WHERE chain = :chain AND seq > 100",
        chain=chain,
    )
    with db.engine.begin() as conn:
        conn.execute(
            insert(AuditEntry).values(
                chain=chain, seq=5, at=forged.at, actor=forged.actor, action=forged.action,
                object_type="visit", object_key="1", before=None, after='{"voided":true}',
                prev_hash=prev, hash=forged.hash,
            )
        )  # fmt: skip
    found = findings()
    assert any(f.startswith(f"chain {chain} #6:") and "link" in f for f in found), found
    assert any("stored out of sequence order" in f for f in found), found


# --- invariants in the database -----------------------------------------------------------


def test_lines_total_must_equal_the_sum_of_the_lines(history: History, dialect: str) -> None:
    bad = (
        "UPDATE visit SET lines_total = lines_total + 1000, in_scope = in_scope + 1000, "
        "fiscal = fiscal + 1000, total = total + 1000 WHERE id = :id",
        "UPDATE visit_line SET amount = amount + 1, in_scope = in_scope + 1 "
        "WHERE visit_id = :id AND line_no = 1",
        "DELETE FROM visit_line WHERE visit_id = :id AND line_no = 1",
        "INSERT INTO visit_line (visit_id, month, line_no, item_id, item_code, item_name, kind, "
        "unit, insurance_class, quantity, unit_price, amount, in_scope, self_pay, fund_base) "
        "SELECT visit_id, month, 99, item_id, item_code, item_name, kind, unit, insurance_class, "
        "quantity, unit_price, amount, in_scope, self_pay, fund_base FROM visit_line "
        "WHERE visit_id = :id AND line_no = 1",
    )
    for statement in bad:
        with pytest.raises(IntegrityError, match="visit_lines_total"):
            tamper(statement, id=history.open.id)
    assert findings() == []


def test_a_visit_with_its_lines_passes_the_trigger(history: History) -> None:
    """Recording through the app (visit first, then its lines) commits on both databases."""
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 5


@pytest.mark.one_database("postgresql")  # the EXCLUDE constraint; the import checks on both
def test_price_periods_of_one_item_cannot_overlap(history: History) -> None:
    item_id = db.session.scalar(select(ItemPrice.item_id).limit(1))
    overlapping = ItemPrice(item_id=item_id, price=1, valid_from=dt.date(2026, 6, 1))
    with pytest.raises(IntegrityError, match="ex_item_price_no_overlap"), unit_of_work() as session:
        session.add(overlapping)
    db.session.rollback()
    with unit_of_work() as session:  # a period that overlaps none is fine
        session.add(
            ItemPrice(
                item_id=item_id,
                price=1,
                valid_from=dt.date(2000, 1, 1),
                valid_to=dt.date(2000, 12, 31),
            )
        )


def test_a_pinned_head_must_still_be_held(app: Flask, history: History) -> None:
    head = db.session.get(AuditChain, clinic_chain("HD001"))
    assert head is not None
    pin = f"{head.chain} #{head.last_seq} {head.last_hash}"
    db.session.remove()
    assert verify((pin,)).clean
    assert not verify((f"{head.chain} #{head.last_seq} {'0' * 64}",)).clean
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--pin", pin])
    assert result.exit_code == 0, result.output


def test_the_statement_pdf_prints_the_chain_head(app: Flask, history: History) -> None:
    from app.settlement.documents import statement_document, statement_pdf
    from app.settlement.queries import statement_view

    head = db.session.get(AuditChain, clinic_chain("HD001"))
    assert head is not None
    view = statement_view("HD001", SEPT, None)
    now = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)
    document = statement_document(view, now)
    assert document.audit_head == f"clinic:HD001 #{head.last_seq} {head.last_hash}"
    assert statement_pdf(view, now).startswith(b"%PDF")
    assert verify((document.audit_head,)).clean
