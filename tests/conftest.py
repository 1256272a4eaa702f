"""Fixtures: the app on a real database built by the Alembic migrations.

Integration tests take the ``app`` fixture, which is parametrised over SQLite
and, when ``TEST_DATABASE_URL`` names a PostgreSQL server, PostgreSQL.  Each
database is migrated once per session into a template; every test gets a fresh
copy (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.extensions import db
from app.factory import create_app

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# One template per test run, so two runs on one server never drop each other's.
TEMPLATE_DB = f"yiyuan_test_template_{os.getpid()}"


class FixedClock:
    """A clock tests can set and move; operations get it like the real one."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: Any) -> None:
        self.now += dt.timedelta(**kwargs)


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


def _pg_admin_engine() -> Any:
    url = make_url(PG_URL).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TEMPLATE_DB}"))
    _migrate(make_url(PG_URL).set(database=TEMPLATE_DB).render_as_string(hide_password=False))
    yield TEMPLATE_DB
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"yiyuan_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template_name}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    # 2026-10-15 10:00 in Shanghai: a weekday in an open month.
    return FixedClock(dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC))


@pytest.fixture
def app(database_url: str, clock: FixedClock) -> Iterator[Flask]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "SECRET_KEY": "test",
            "CLOCK": clock,
        }
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def dialect(app: Flask) -> str:
    return db.engine.dialect.name
