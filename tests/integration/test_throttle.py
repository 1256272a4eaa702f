"""Login throttling is counted in the database, shared by every process (issue 23, item 3).

Two processes on one database count together; the hard limit is per address
and username, so a stranger guessing a user's password from his own machine
does not lock the user out; from many machines the username is only slowed
down for a short window, and never in a browser the user logged in from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.factory import create_app
from app.web.throttle import ThrottleCounter
from tests.factories import World

ROOT = Path(__file__).resolve().parents[2]


def _app(url: str) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "test",
                       "WTF_CSRF_ENABLED": False})  # fmt: skip


def _try(client: FlaskClient, address: str, password: str = "wrong", user: str = "doctor") -> int:
    r = client.post("/login", data={"username": user, "password": password},
                    environ_base={"REMOTE_ADDR": address})  # fmt: skip
    return r.status_code


SECOND_PROCESS = textwrap.dedent(
    """
    import sys
    from app.factory import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "TESTING": True,
                      "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    statuses = [client.post("/login", data={"username": "doctor", "password": p}).status_code
                for p in ("wrong", "wrong", "secret-pass")]
    print(" ".join(map(str, statuses)))
    """
)


def test_two_processes_on_one_database_share_the_count(app: Flask, world: World) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()  # the fixture's reads end: SQLite lets one writer commit
    first = _app(url).test_client()
    assert [_try(first, "127.0.0.1") for _ in range(3)] == [401, 401, 401]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SECOND_PROCESS, url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    # 3 + 2 failures from one address for one name: the right password is refused too.
    assert done.stdout.split() == ["401", "401", "429"], done.stderr[-2000:]
    assert _try(first, "127.0.0.1", "secret-pass") == 429
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ThrottleCounter)) >= 2


def test_a_stranger_cannot_lock_the_user_out(app: Flask, world: World) -> None:
    db.session.remove()  # the fixture's reads end: SQLite lets one writer commit
    served = _app(app.config["SQLALCHEMY_DATABASE_URI"])
    stranger = served.test_client()
    assert [_try(stranger, "10.0.0.66") for _ in range(5)] == [401] * 5
    assert _try(stranger, "10.0.0.66", "secret-pass") == 429  # that machine is stopped
    # The doctor at his clinic logs in as usual.
    own = served.test_client()
    assert _try(own, "10.0.0.2", "secret-pass") == 302

    # Many machines guessing: the name is slowed down for a minute, no longer.
    for n in range(5):  # with the stranger's five: the ten a minute allowed
        assert _try(served.test_client(), f"10.0.1.{n}") == 401
    slowed = served.test_client().post(
        "/login", data={"username": "doctor", "password": "secret-pass"},
        environ_base={"REMOTE_ADDR": "10.0.2.1"},
    )  # fmt: skip
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["Retry-After"]) <= 60
    # … but never in the browser the doctor logged in from.
    own.post("/logout", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert _try(own, "10.0.0.2", "secret-pass") == 302
    # Other users are not affected at all.
    assert _try(served.test_client(), "10.0.2.1", "secret-pass", user="doctor2") == 302
