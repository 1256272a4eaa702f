"""Crash test: ``kill -9`` the production server mid-run, restart, retry (issue 8 §9).

Real gunicorn processes serve the app on a migrated database (SQLite and
PostgreSQL); client threads record visits, each with its own Idempotency-Key.
Part-way through, the whole server (master and workers) is killed with
SIGKILL — no shutdown code runs, transactions are cut mid-flight.  After a
restart the clients retry every key they never got an answer for.  Then:
every key was recorded exactly once, every answer a client had received is
unchanged, receipt numbers are gapless, every visit keeps
``total = patient + fund + fiscal``, the fund-usage year rows equal the
fund paid over the visits, and ``flask audit verify`` finds the chain whole.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.factory import create_app
from app.money import format_yuan
from app.visits.models import FundUsage, IdempotencyKey, Visit
from tests.factories import build_world

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 4
KEYS_PER_CLIENT = 25
DEADLINE = 90  # seconds: the whole test gives up (and fails) after this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """gunicorn in its own process group, so SIGKILL takes master and workers at once."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "crash-test",
            "PYTHONPATH": str(ROOT),
        }
        self.log = tmp / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn",
                    "--workers", "2", "--threads", "4",
                    "--bind", f"127.0.0.1:{self.port}",
                    "app.factory:create_app()",
                ],
                cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90  # a loaded CI machine; it returns as soon as up
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        # Not left running (it would outlive the test run, holding a port and a core).
        self.stop()
        raise AssertionError("server did not start: " + self.log.read_text()[-2000:])

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def prepared(database_url: str) -> Iterator[tuple[str, str, str]]:
    """The database with the factory world; yields (url, doctor's token, patient ID)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    with app.app_context():
        world = build_world(dt.datetime.now(dt.UTC))
        db.session.remove()
        db.engine.dispose()
    yield database_url, world.tokens["doctor"], world.ids["insured_village"]


def post_visit(base: str, token: str, key: str, patient: str) -> dict[str, Any] | None:
    """The visit the server acknowledged, or None when no answer came back."""
    body = {
        "clinic": "HD001",
        "patient_id_number": patient,
        "injection": True,
        "lines": [{"item": "DX001", "quantity": "1"}, {"item": "AMX01", "quantity": "12"}],
    }
    request = urllib.request.Request(
        base + "/api/v1/visits",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 201)
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            return None  # a 503 while the database is busy: not acknowledged, retry
        raise
    except (OSError, http.client.HTTPException):
        # Connection refused or cut, before the answer or halfway through its body
        # (the kill can land between the headers and the body: IncompleteRead).
        return None  # not acknowledged


def test_kill_9_mid_run_then_retry_records_each_key_once(
    prepared: tuple[str, str, str], tmp_path: Path
) -> None:
    database_url, token, patient = prepared
    server = Server(database_url, tmp_path)
    acknowledged: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    started = time.monotonic()

    def client(n: int) -> None:
        for i in range(KEYS_PER_CLIENT):
            key = f"crash-{n}-{i}"
            answer = post_visit(server.url, token, key, patient)
            if answer is not None:
                with lock:
                    acknowledged[key] = answer
            if time.monotonic() - started > DEADLINE:
                return

    try:
        server.start()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 15 and time.monotonic() - started < DEADLINE:
            time.sleep(0.02)
        server.kill()  # kill -9: master and workers, mid-request
        for thread in threads:
            thread.join(timeout=DEADLINE)
        keys = [f"crash-{n}-{i}" for n in range(CLIENTS) for i in range(KEYS_PER_CLIENT)]
        unacknowledged = [k for k in keys if k not in acknowledged]
        assert 15 <= len(acknowledged) < len(keys), "the kill must land mid-run"

        server.start()
        for key in unacknowledged:  # the clients retry what they never heard back about
            answer = None
            while answer is None and time.monotonic() - started < DEADLINE:
                answer = post_visit(server.url, token, key, patient)
            assert answer is not None, f"{key} never recorded"
            acknowledged[key] = answer
        for key in keys[:10]:  # a retry of an acknowledged key returns the same visit
            again = post_visit(server.url, token, key, patient)
            assert again is not None and again["id"] == acknowledged[key]["id"]
            assert again["receipt_number"] == acknowledged[key]["receipt_number"]
    finally:
        server.stop()

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    with app.app_context():
        visits = db.session.scalars(select(Visit).order_by(Visit.id)).all()
        assert len(visits) == len(keys)  # each key exactly once, nothing extra
        by_id = {v.id: v for v in visits}
        for answer in acknowledged.values():  # what a client was told is what is stored
            visit = by_id[answer["id"]]
            assert visit.receipt_number == answer["receipt_number"]
            assert answer["totals"]["total"] == format_yuan(visit.total)
            assert answer["totals"]["fiscal"] == format_yuan(visit.fiscal)
        stored_keys = db.session.scalar(select(func.count()).select_from(IdempotencyKey))
        assert stored_keys == len(keys)
        seqs = sorted(int(v.receipt_number.rsplit("-", 1)[1]) for v in visits)
        assert seqs == list(range(1, len(keys) + 1))  # gapless after the crash
        for v in visits:
            assert v.total == v.patient + v.fund + v.fiscal
        usage = db.session.scalar(select(func.sum(FundUsage.fund_paid)))
        assert usage == sum(v.fund for v in visits)
        # The audit chain survived the crash whole: one entry per visit, all verified.
        verify = app.test_cli_runner().invoke(args=["audit", "verify"])
        assert verify.exit_code == 0, verify.output
        db.session.remove()
        db.engine.dispose()
