"""A silent database never hangs the service (issue 23, item 1).

A PostgreSQL server that is stopped (SIGSTOP: a frozen VM or a network
partition looks like this) accepts connections in its kernel and acknowledges
every packet, but answers nothing.  The test starts its own server in a
temporary folder (``initdb`` + ``pg_ctl``, as the ``postgres`` user when run as
root), freezes it and checks that a page, an API call and the readiness probe
all answer 503 within the configured bound, and that everything recovers by
itself once the server runs again.  A second test shows gunicorn replacing a
worker whose request is stuck (gthread workers keep their heartbeat otherwise).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade

from app.extensions import db
from app.factory import create_app

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL server binaries are needed ({name} under /usr/lib/postgresql)"
    return found[-1]


class OwnServer:
    """A PostgreSQL server of the test's own, which the test may freeze."""

    def __init__(self, folder: Path, port: int, as_postgres: bool) -> None:
        self.folder, self.port, self.as_postgres = folder, port, as_postgres

    def run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pids(self) -> list[int]:
        """The postmaster and every backend it started (this server's own processes only)."""
        postmaster = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def signal_all(self, signum: int) -> None:
        for pid in self.pids():
            os.kill(pid, signum)


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    as_postgres = os.geteuid() == 0  # initdb refuses to run as root
    folder = Path(tempfile.mkdtemp(prefix="yiyuan-silent-"))
    if as_postgres:
        shutil.chown(folder, "postgres")
    server = OwnServer(folder, _free_port(), as_postgres)
    data = folder / "data"
    server.run(_postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    server.run(_postgres_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
               str(folder / "log"), "start")  # fmt: skip
    try:
        yield server
    finally:
        with contextlib.suppress(OSError, ValueError):
            server.signal_all(signal.SIGCONT)
        server.run(_postgres_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _timed(pool: ThreadPoolExecutor, call: Callable[[], Any], limit: float) -> tuple[Any, float]:
    """``call()`` in another thread; the test fails (rather than hangs) past ``limit``."""
    began = time.monotonic()
    answer = pool.submit(call).result(timeout=limit)
    return answer, time.monotonic() - began


def test_a_frozen_database_answers_503_within_the_bound_and_recovers(
    own_server: OwnServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bound: statement 2 s + margin 1 s per wait; 2 s to connect; the probe 1 s.
    for name, value in (("DB_STATEMENT_TIMEOUT", "2"), ("DB_CLIENT_MARGIN", "1"),
                        ("DB_CONNECT_TIMEOUT", "2"), ("READY_TIMEOUT", "1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    app = create_app({"SQLALCHEMY_DATABASE_URI": own_server.url, "TESTING": True,
                      "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})  # fmt: skip
    with app.app_context():
        upgrade()
        db.session.remove()
    client = app.test_client()
    api = {"Authorization": "Bearer not-a-real-token"}

    def ready() -> int:
        return client.get("/readyz").status_code

    def login() -> int:
        return client.post("/login", data={"username": "doctor", "password": "x"}).status_code

    def items() -> int:
        return client.get("/api/v1/catalog/items?q=a", headers=api).status_code

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        # Healthy: ready, a wrong password is a 401, an unknown token a 401.
        assert (ready(), login(), items()) == (200, 401, 401)

        own_server.signal_all(signal.SIGSTOP)
        # The pool holds live connections to a server that now answers nothing:
        # each wait ends at the client's bound (3 s), a new connection at 2 s.
        for call, bound in ((items, 9.0), (login, 9.0), (ready, 6.0)):
            status, took = _timed(pool, call, limit=30)
            assert status == 503, call.__name__
            assert took < bound, (call.__name__, took)
        assert client.get("/healthz").status_code == 200  # the process itself is alive
        assert client.get("/readyz").json == {"status": "unavailable",
                                              "reason": "database unreachable"}  # fmt: skip

        own_server.signal_all(signal.SIGCONT)
        deadline = time.monotonic() + 20
        while _timed(pool, ready, limit=30)[0] != 200:
            assert time.monotonic() < deadline, "not ready again after the server resumed"
            time.sleep(0.2)
        assert (login(), items()) == (401, 401)  # recovered with no restart
    finally:
        own_server.signal_all(signal.SIGCONT)
        pool.shutdown(wait=True)
        with app.app_context():
            db.engine.dispose()


def test_the_client_bound_is_on_the_connections_the_app_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.config import engine_options

    for name, value in (("DB_STATEMENT_TIMEOUT", "7"), ("DB_CLIENT_MARGIN", "2"),
                        ("DB_LOCK_TIMEOUT", "4"), ("DB_CONNECT_TIMEOUT", "3")):  # fmt: skip
        monkeypatch.setenv(name, value)
    args = engine_options("postgresql+psycopg://u@h/db")["connect_args"]
    assert args["connect_timeout"] == 3
    assert args["options"] == "-c statement_timeout=7000 -c lock_timeout=4000"
    assert args["client_deadline"] == 9
    assert args["tcp_user_timeout"] == 9000 and args["keepalives"] == 1


# --- gunicorn replaces a worker whose request is stuck -----------------------------------


def test_gunicorn_replaces_a_worker_stuck_in_a_request(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """A request waits far longer than GUNICORN_TIMEOUT: its worker is aborted and replaced."""
    database = tmp_path / "stuck.sqlite3"
    shutil.copyfile(sqlite_template, database)
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{database}",
           "SECRET_KEY": "stuck-test", "STATIC_BUILD_DIR": str(tmp_path / "assets"),
           "WEB_CONCURRENCY": "1", "THREADS": "2", "PORT": str(port),
           "GUNICORN_TIMEOUT": "3",
           # SQLite waits this long for a writer's lock: far past the worker timeout.
           "DB_STATEMENT_TIMEOUT": "120"}  # fmt: skip
    env.pop("FLASK_DEBUG", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        _wait_for(lambda: _status(port, "GET", "/healthz", timeout=2) == 200, 120, log)
        booted = _workers(log)
        assert len(booted) == 1
        blocker.execute("BEGIN EXCLUSIVE")  # every read and write now waits (120 s)
        began = time.monotonic()
        # The bearer token is looked up in the database, which waits; the worker
        # holding the request is killed, which drops the connection.
        with contextlib.suppress(OSError):
            _status(port, "GET", "/api/v1/catalog/items?q=a", timeout=20)
        _wait_for(lambda: len(_workers(log)) == 2, 120, log)
        assert "WORKER TIMEOUT" in log.read_text()
        # About 2 x GUNICORN_TIMEOUT; bounded well below the 120 s the blocked read would wait.
        assert time.monotonic() - began < 90
        blocker.execute("ROLLBACK")
        # The new worker serves once it has loaded the app (tens of seconds on a loaded
        # machine: "Booting worker" is logged before the import, not after).
        _wait_for(lambda: _status(port, "GET", "/healthz", timeout=5) == 200, 120, log)
    finally:
        blocker.close()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _workers(log: Path) -> list[str]:
    return re.findall(r"Booting worker with pid: (\d+)", log.read_text())


def _status(port: int, method: str, path: str, *, timeout: float) -> int:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers={"Authorization": "Bearer not-a-token"})
        return connection.getresponse().status
    finally:
        connection.close()


def _wait_for(condition: Callable[[], bool], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)
