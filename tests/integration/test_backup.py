"""``flask db backup`` / ``flask db restore`` on SQLite and PostgreSQL (issue 8 §8).

A backup taken while a doctor keeps recording is one consistent snapshot:
restored, its receipts are gapless, its counters and fund-usage rows match its
visits, and every visit keeps its identity.  A quiescent backup restores to
exactly the counts and sums it was taken from.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from app.auth.models import User
from app.extensions import db
from app.oversight.checks import screen
from app.visits.models import FundUsage, ReceiptCounter, Visit
from app.visits.operations import LineRequest, VisitRequest, record_visit
from tests.conftest import FixedClock
from tests.factories import build_world

LINES = (LineRequest("DX001", "1"), LineRequest("AMX01", "6"))


def fingerprint() -> tuple[int, ...]:
    """Counts and sums that any lost, torn or duplicated row would change."""
    visits = db.session.execute(
        select(
            func.count(Visit.id),
            func.coalesce(func.sum(Visit.total), 0),
            func.coalesce(func.sum(Visit.fund), 0),
            func.coalesce(func.sum(Visit.fiscal), 0),
            func.coalesce(func.sum(Visit.patient), 0),
        )
    ).one()
    counters = db.session.scalar(select(func.coalesce(func.sum(ReceiptCounter.last_seq), 0)))
    usage = db.session.scalar(select(func.coalesce(func.sum(FundUsage.fund_paid), 0)))
    db.session.rollback()
    return (*visits, counters, usage)


def assert_consistent() -> None:
    count, total, fund, fiscal, patient, counters, usage = fingerprint()
    assert counters == count  # every receipt number issued belongs to a visit that exists
    assert usage == fund  # the year rows equal the fund paid over the visits
    assert total == fund + fiscal + patient
    seqs = sorted(
        int(n.rsplit("-", 1)[1]) for n in db.session.scalars(select(Visit.receipt_number))
    )
    assert seqs == list(range(1, count + 1))  # gapless
    db.session.rollback()


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_backup_while_recording_then_restore(app: Flask, clock: FixedClock, tmp_path: Path) -> None:
    world = build_world(clock())
    patient = world.ids["insured_village"]
    doctor_id = db.session.scalar(select(User.id).where(User.username == "doctor"))
    db.session.rollback()
    stop = threading.Event()
    recorded: list[int] = []
    errors: list[BaseException] = []

    def keep_recording() -> None:
        with app.app_context():
            actor = db.session.get(User, doctor_id)
            assert actor is not None
            try:
                while not stop.is_set() and len(recorded) < 400:
                    visit, _ = record_visit(
                        VisitRequest("HD001", patient, False, LINES), actor, clock(), screen=screen
                    )
                    recorded.append(visit.id)
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    worker = threading.Thread(target=keep_recording)
    worker.start()
    try:
        while len(recorded) < 5 and worker.is_alive():
            stop.wait(0.01)
        during = tmp_path / "during.backup"
        cli(app, "backup", str(during))
        backed_up_after = len(recorded)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors
    assert during.stat().st_size > 0
    live = fingerprint()
    assert live[0] == len(recorded) > 5

    out = cli(app, "restore", "--yes", str(during))
    assert "statements verified" in out
    assert_consistent()
    restored = fingerprint()
    assert 5 <= restored[0] <= live[0]
    assert restored[0] <= backed_up_after + 1  # nothing recorded after the backup ended

    # A quiescent backup restores to exactly what it was taken from.
    record_visit(
        VisitRequest("HD001", patient, True, LINES),
        db.session.get(User, doctor_id),
        clock(),
        screen=screen,
    )
    before = fingerprint()
    still = tmp_path / "still.backup"
    cli(app, "backup", str(still))
    record_visit(
        VisitRequest("HD001", patient, False, LINES),
        db.session.get(User, doctor_id),
        clock(),
        screen=screen,
    )
    assert fingerprint() != before
    cli(app, "restore", "--yes", str(still))
    assert fingerprint() == before
    assert_consistent()


def test_a_failed_backup_leaves_no_file_and_a_bad_restore_changes_nothing(
    app: Flask, clock: FixedClock, tmp_path: Path
) -> None:
    build_world(clock())
    before = fingerprint()
    bogus = tmp_path / "bogus.backup"
    bogus.write_bytes(b"not a backup")
    result = app.test_cli_runner().invoke(args=["db", "restore", "--yes", str(bogus)])
    assert result.exit_code != 0
    assert fingerprint() == before
    if db.engine.dialect.name == "sqlite":
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"  # in memory: nothing to copy
    else:
        url = db.engine.url.set(database="no_such_database_here")
        app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    target = tmp_path / "out" / "x.backup"
    result = app.test_cli_runner().invoke(args=["db", "backup", str(target)])
    assert result.exit_code != 0
    assert list((tmp_path / "out").iterdir()) == []  # no partial file left behind
