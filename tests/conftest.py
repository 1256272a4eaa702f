"""Fixtures: the app on a real database built by the Alembic migrations.

Integration tests take the ``app`` fixture, which is parametrised over SQLite
and, when ``TEST_DATABASE_URL`` names a PostgreSQL server, PostgreSQL.  Each
database is prepared once per session (once per xdist worker) as two
templates: the migrated, empty schema, and the same schema holding the factory
world (:func:`tests.factories.build_world`).  Every test gets a fresh copy (a
file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL): of the
world template when it asks for the ``world`` fixture (directly or through
another fixture), of the empty one otherwise (imports, demo seed, CLI loads).

The app itself is made once per database kind and test session (indico's
pattern, :class:`SessionApp`): each test's ``app`` is that app switched to the
test's database copy, clock and settings, with whatever an earlier test added
to it (hooks, settings, extension keys, rate-limit counts) taken away.  A
variant that must be built differently (a setting read when the app is made)
comes from the ``make_app(url, **settings)`` factory fixture.

On such a copy ``build_world`` (and so every ``world`` fixture) hands back
the World the template was seeded with (same ids, same API tokens), its
clinics loaded in the test's own session, so a test reads it exactly as if it
had built it.  Tests marked ``one_database`` check output that
does not depend on the database (PDF rendering) and run on SQLite only;
``one_database("postgresql")`` (or ``"sqlite"``) runs a test of a feature
only that database has — never a skip, which CI refuses.

Passwords are hashed with one round of PBKDF2 here
(``app.auth.operations.PASSWORD_HASH_METHOD``); the application keeps scrypt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
import weakref
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url

import app.auth.operations as auth_operations
from app.config import engine_options
from app.database import configure_engine
from app.extensions import db, limiter
from app.factory import create_app
from tests.factories import DEFAULT_POLICY, SEEDED, SeededWorld, World, build_world

# Tests never time anything: no per-example deadline and no "too slow" health
# check, which fail property tests on a loaded machine (two cores, many runs).
settings.register_profile("untimed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("untimed")

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# Per run and per xdist worker, so neither two runs on one server nor two
# workers of one run ever drop (or copy while seeding) each other's templates.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEMPLATE_PREFIX = f"yiyuan_test_{WORKER}_{os.getpid()}"
# 2026-10-15 10:00 in Shanghai: a weekday in an open month (the clock fixture's start).
START = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)
TEST_CONFIG: dict[str, Any] = {"TESTING": True, "SECRET_KEY": "test"}
# A cheap hash: every world holds eight users, and scrypt costs ~0.2 s a password.
auth_operations.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        kinds = ["sqlite", "postgresql"]
        marker = metafunc.definition.get_closest_marker("one_database")
        if marker is not None:
            # one_database: SQLite; one_database("postgresql"): a feature only it has.
            kinds = [marker.args[0] if marker.args else "sqlite"]
        metafunc.parametrize("database", kinds, indirect=True)


class FixedClock:
    """A clock tests can set and move; operations get it like the real one."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: Any) -> None:
        self.now += dt.timedelta(**kwargs)


@dataclass(frozen=True)
class Templates:
    """One database's two templates: SQLite file paths or PostgreSQL database names."""

    empty: str
    world: str
    seeded: SeededWorld = field(compare=False)


def _prepare(url: str, *, migrate: bool, seed: bool) -> SeededWorld | None:
    from flask_migrate import upgrade

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    seeded = None
    with app.app_context():
        if migrate:
            upgrade()
        if seed:
            seeded = SeededWorld.of(build_world(START), START, DEFAULT_POLICY)
        db.session.remove()
        db.engine.dispose()
    return seeded


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    folder = tmp_path_factory.mktemp("templates")
    empty, world = folder / "empty.sqlite3", folder / "world.sqlite3"
    _prepare(f"sqlite:///{empty}", migrate=True, seed=False)
    shutil.copyfile(empty, world)
    seeded = _prepare(f"sqlite:///{world}", migrate=False, seed=True)
    assert seeded is not None
    return Templates(str(empty), str(world), seeded)


@pytest.fixture(scope="session")
def sqlite_template(sqlite_templates: Templates) -> Path:
    """The migrated, empty SQLite template, for tests that start their own app."""
    return Path(sqlite_templates.empty)


def _pg_admin_engine() -> Any:
    url = make_url(PG_URL).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_templates() -> Iterator[Templates]:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
    empty, world = f"{TEMPLATE_PREFIX}_empty", f"{TEMPLATE_PREFIX}_world"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        for name in (empty, world):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {empty}"))
    _prepare(_pg_url(empty), migrate=True, seed=False)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {world} TEMPLATE {empty}"))
    seeded = _prepare(_pg_url(world), migrate=False, seed=True)
    assert seeded is not None
    yield Templates(empty, world, seeded)
    with admin.connect() as conn:
        for name in (empty, world):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Templates:
    """The templates of the database this test runs on (parametrised in pytest_generate_tests)."""
    kind = "sqlite" if request.param == "sqlite" else "pg"
    templates: Templates = request.getfixturevalue(f"{kind}_templates")
    return templates


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, database: Templates, tmp_path: Path
) -> Iterator[str]:
    template = database.world if "world" in request.fixturenames else database.empty
    if request.node.callspec.params["database"] == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"{TEMPLATE_PREFIX}_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


# What a test may add to the app (hooks, handlers, extensions' state): put back after it.
_HOOKS = (
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "template_context_processors",
    "url_value_preprocessors",
    "url_default_functions",
)


# Every DB-API connection the current test's engine opened (weakly: a closed and
# dropped one leaves by itself).
_OPENED: weakref.WeakSet[Any] = weakref.WeakSet()


@event.listens_for(Engine, "connect")
def _track_app_connections(dbapi: Any, _record: Any) -> None:
    # Every app's PostgreSQL connection, whichever engine made it (the session
    # app's, make_app's, a live server's): the app's own connection class has
    # the client deadline (app.database); the fixtures' admin engines are left alone.
    if type(dbapi).__name__ == "DeadlineConnection":
        _OPENED.add(dbapi)


@pytest.fixture(autouse=True)
def _no_connection_outlives_its_test() -> Iterator[None]:
    """Close what a test's apps left open when it ends (after their fixtures), so a
    leak is never reported by the collector in a later, unrelated test."""
    yield
    _close_leftovers()


@dataclass
class SessionApp:
    """One app per database kind and test session (indico's pattern), as it was made.

    Building an app costs its OpenAPI registration and, on its first pages, the
    compilation of every template; switching the database under a made app
    costs an engine.  Each test gets the app with its own database, clock and
    configuration, and whatever it added to the app (a ``before_request``
    hook, a setting, an extension's key) is taken away after it.
    """

    app: Flask
    config: dict[str, Any]
    extensions: dict[str, Any]
    hooks: dict[str, dict[Any, list[Any]]]
    teardown_appcontext: list[Any]
    error_handlers: dict[Any, dict[Any, dict[Any, Any]]]

    @classmethod
    def make(cls, url: str) -> SessionApp:
        app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
        return cls(
            app,
            dict(app.config),
            dict(app.extensions),
            {name: _copy_lists(getattr(app, name)) for name in _HOOKS},
            list(app.teardown_appcontext_funcs),
            _copy_handlers(app.error_handler_spec),
        )

    def switch(self, url: str, clock: FixedClock) -> Flask:
        """The app on the database at ``url`` with ``clock``, as freshly made."""
        app = self.app
        app.config.clear()
        app.config.update(self.config)
        app.config.update(
            SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=engine_options(url), CLOCK=clock
        )
        app.extensions.clear()
        app.extensions.update(self.extensions)
        for name in _HOOKS:
            setattr(app, name, _copy_lists(self.hooks[name]))
        app.teardown_appcontext_funcs[:] = self.teardown_appcontext
        app.error_handler_spec = _copy_handlers(self.error_handlers)
        # A test may add hooks (before_request) as it could to an app never used.
        app._got_first_request = False
        # The engine Flask-SQLAlchemy would make for ``url`` (app.factory's options).
        engines = db._app_engines[app]
        _close_leftovers()
        for engine in engines.values():
            engine.dispose()
        engines.clear()
        options: dict[str, Any] = {**engine_options(url), "url": url}
        options.setdefault("echo", False)
        options.setdefault("echo_pool", False)
        db._apply_driver_defaults(options, app)
        engines[None] = db._make_engine(None, options, app)
        configure_engine(engines[None])
        # Each test starts with no counts (in memory, or in its own database's table).
        with app.app_context():
            limiter.reset()
            db.session.remove()
        return app


def _close_leftovers() -> None:
    """Close the PostgreSQL connections a test left checked out (a thread, a cursor
    it never closed) with its engine, not whenever the collector gets to them, which
    would report them in whatever test runs then (often a SQLite or unit test, as
    no PostgreSQL test may follow on that worker to switch the engine)."""
    for connection in list(_OPENED):
        with contextlib.suppress(Exception):
            connection.close()
    _OPENED.clear()


def _copy_lists(hooks: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
    # Flask's own shape: a defaultdict(list) per hook, keyed by blueprint (None: the app).
    return defaultdict(list, {key: list(functions) for key, functions in hooks.items()})


def _copy_handlers(spec: dict[Any, dict[Any, dict[Any, Any]]]) -> dict[Any, Any]:
    copy: dict[Any, Any] = defaultdict(lambda: defaultdict(dict))
    for blueprint, codes in spec.items():
        for code, handlers in codes.items():
            copy[blueprint][code] = dict(handlers)
    return copy


@pytest.fixture(scope="session")
def session_apps() -> Iterator[dict[str, SessionApp]]:
    """The session's apps, by database kind, made when a test first needs one."""
    apps: dict[str, SessionApp] = {}
    yield apps
    for shared in apps.values():
        for engine in db._app_engines.get(shared.app, {}).values():
            engine.dispose()


@pytest.fixture
def make_app(clock: FixedClock) -> Iterator[Any]:
    """A factory of apps of their own, for a variant the session app cannot be:
    ``make_app(url, **settings)`` (settings applied before the app is built)."""
    made: list[Flask] = []

    def make(url: str, **settings: Any) -> Flask:
        app = create_app(
            {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "CLOCK": clock, **settings}
        )
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(
    request: pytest.FixtureRequest,
    database: Templates,
    database_url: str,
    clock: FixedClock,
    session_apps: dict[str, SessionApp],
) -> Iterator[Flask]:
    kind = request.node.callspec.params["database"]
    if kind not in session_apps:
        session_apps[kind] = SessionApp.make(database_url)
    app = session_apps[kind].switch(database_url, clock)
    if "world" in request.fixturenames:  # copied from the world template (database_url)
        app.extensions[SEEDED] = database.seeded
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()  # (dispose closes only the connections checked in)
        _close_leftovers()


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    """The factory world, already in this test's database (copied from the template)."""
    return build_world(clock())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def dialect(app: Flask) -> str:
    return db.engine.dialect.name
