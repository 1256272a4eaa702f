"""``kill -9`` of the app while it waits on the platform's settle (2207), then recovery.

The production server (gunicorn, its own process group) records a visit and
settles it with the simulator, which answers each message only after 1.5 s.
While the 2207 is in flight the whole server is SIGKILLed.  The platform still
settles it; the clinic never hears.  The visit is recorded (it committed
before the platform was called) and its settlement is pending with the 2207
stored as ``sending``.  The retry command, once the attempt's lease has
lapsed, reverses that unknown 2207 with 2601 and settles again: one live
settlement at the platform, the lost one reversed, nothing settled twice.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.factory import create_app
from app.insurance.models import InsuranceExchange, InsuranceSettlement
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.integration.test_crash import Server, post_visit
from tests.integration.test_crash import prepared as prepared  # a fixture
from tests.simulator import FACTORY_CATALOGUE, Simulator

DEADLINE = 60


@pytest.mark.usefixtures("prepared")
def test_kill_9_while_settling_then_the_retry_reverses_and_settles_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database_url, token, patient = request.getfixturevalue("prepared")
    sim = Simulator(tmp_path)
    sim.start()
    server = Server(database_url, tmp_path)
    try:
        sim.post("admin/catalogue", FACTORY_CATALOGUE)
        sim.post("admin/persons", [{"certno": patient, "insured_from": "2020-01-01"}])
        sim.mode(latency_ms=1500)
        server.env.update(
            INSURANCE_GATEWAY_URL=sim.url,
            INSURANCE_READ_TIMEOUT="20",
            INSURANCE_PAUSE_AFTER_FAILURE="0",
        )
        server.start()
        answers: list[object] = []
        thread = threading.Thread(
            target=lambda: answers.append(post_visit(server.url, token, "kill-1", patient))
        )
        thread.start()
        watcher = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
        with watcher.app_context():
            started = time.monotonic()
            while time.monotonic() - started < DEADLINE:
                in_flight = db.session.scalar(
                    select(InsuranceExchange.id).where(
                        InsuranceExchange.infno == "2207", InsuranceExchange.state == "sending"
                    )
                )
                db.session.rollback()
                if in_flight is not None:
                    break
                time.sleep(0.05)
            assert in_flight is not None, "the settle never went out"
            time.sleep(0.5)  # on the wire: the platform holds it for its 1.5 s
            server.kill()  # kill -9 with the 2207 in flight
            thread.join(timeout=DEADLINE)
            assert answers == [None]  # the doctor's request never got its answer
            # The platform finishes the message it received (its 1.5 s latency): asked
            # until it has, rather than after a fixed wait as long as the slowest case.
            finished = time.monotonic() + DEADLINE
            while not sim.settlements() and time.monotonic() < finished:
                time.sleep(0.05)
            assert [s["status"] for s in sim.settlements()] == ["settled"]
            row = db.session.scalar(select(InsuranceSettlement))
            assert row is not None and row.status == "pending" and row.setl_id is None
            visit = db.session.get(Visit, row.visit_id)
            assert visit is not None and visit.voided_at is None  # recorded, committed
            lease = row.next_attempt_at
            db.session.remove()
            db.engine.dispose()
        sim.mode(latency_ms=0)
        # The retry command, after the crashed attempt's lease has lapsed.
        assert lease is not None
        later = FixedClock(lease + dt.timedelta(seconds=1))
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "CLOCK": later,
             "INSURANCE_GATEWAY_URL": sim.url, "INSURANCE_PAUSE_AFTER_FAILURE": 0}
        )  # fmt: skip
        with app.app_context():
            out = app.test_cli_runner().invoke(args=["insurance", "retry"])
            assert "settled 1" in out.output, out.output
            row = db.session.scalar(select(InsuranceSettlement))
            assert row is not None and row.status == "settled"
            calls = db.session.scalars(
                select(InsuranceExchange)
                .where(InsuranceExchange.settlement_id == row.id)
                .order_by(InsuranceExchange.id)
            ).all()
            assert [(c.infno, c.state) for c in calls][-4:] == [
                ("2207", "reversed"),
                ("2601", "answered"),
                ("2206", "answered"),
                ("2207", "answered"),
            ]
            db.session.remove()
            db.engine.dispose()
        platform = sim.settlements()
        assert sorted(s["status"] for s in platform) == ["reversed", "settled"]
        [live] = [s for s in platform if s["status"] == "settled"]
        assert live["setl_id"] == row.setl_id
    finally:
        server.stop()
        sim.stop()
