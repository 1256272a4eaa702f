"""The race between saving visits and submitting their month (issue 4), both databases.

Recorders save (and void) visits at HD001 for September while another thread
submits September.  The statement row lock serialises them: afterwards the
stored figures equal the sum of the visits that exist, and every attempt was
either counted or refused as frozen — none lost, none sneaked in after.
"""

from __future__ import annotations

import datetime as dt
import threading

from flask import Flask

from app.errors import Conflict
from app.extensions import db
from app.settlement.figures import FIGURE_FIELDS
from app.settlement.models import Statement
from app.settlement.operations import submit_statement
from app.settlement.queries import verify_statement
from app.visits.operations import void_visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_settlement import SEPT, per_visit_sums, record, user

RECORDERS = 4
# Generous: on a loaded machine SQLite's busy handler may let the recorders run
# many times before the submitter gets the write lock; it always gets it eventually.
MAX_ATTEMPTS = 600


def test_visits_racing_a_submit_are_counted_or_refused(
    app: Flask, world: World, clock: FixedClock
) -> None:
    now = clock()
    db.session.commit()  # no read transaction of this thread may hold SQLite's lock
    recorded: list[int] = []
    voided: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    progress = threading.Condition(lock)  # notified on every recorded visit
    start = threading.Barrier(RECORDERS + 1)

    def recorder(n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(MAX_ATTEMPTS):
                    at = dt.datetime(2026, 9, 1 + n, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
                    try:
                        visit = record(world, now, at=at, injection=bool(i % 2))
                    except Conflict as exc:
                        assert exc.field == "visited_at"
                        with lock:
                            refused.append(f"{n}:{i}")
                        return
                    with progress:
                        recorded.append(visit.id)
                        progress.notify_all()
                    if i % 3 == 2:
                        try:
                            void_visit(visit.id, "test void", user("doctor"), now)
                        except Conflict as exc:
                            assert exc.field == "visit"
                        else:
                            with lock:
                                voided.append(visit.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def submitter() -> None:
        try:
            with app.app_context():
                start.wait()
                with progress:  # submit while the recorders are in full flow
                    assert progress.wait_for(lambda: len(recorded) >= 6 or errors, timeout=60)
                submit_statement("HD001", SEPT, user("doctor"), now)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=recorder, args=(n,)) for n in range(RECORDERS)]
    threads.append(threading.Thread(target=submitter))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors

    # Every recorder was eventually refused: the submit landed mid-stream.
    assert len(refused) == RECORDERS
    statement = db.session.query(Statement).filter_by(clinic_id=world.clinic.id, month=SEPT).one()
    assert statement.status == "submitted"
    stored = {n: getattr(statement, n) for n in FIGURE_FIELDS}
    sums = per_visit_sums(world.clinic.id, SEPT)
    assert stored == sums
    assert stored["visits"] == len(recorded) - len(voided)
    assert verify_statement("HD001", SEPT).ok
