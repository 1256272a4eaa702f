"""Sessions, login throttling, tokens, headers, request limits and database trouble (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select

from app.auth.models import ApiToken, LoginSession
from app.config import instance_secret_key
from app.extensions import db
from app.factory import create_app
from app.web.security import json_depth
from tests.conftest import FixedClock
from tests.factories import World, build_world


def fresh_g(app: Flask) -> None:
    """Each test-client request gets its own ``g``, as each browser request does."""

    @app.before_request
    def _fresh_g() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    fresh_g(app)
    return build_world(clock())


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page carries no CSRF token"
    return m.group(1)


def login(client: FlaskClient, username: str = "doctor", password: str = "secret-pass") -> int:
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password}
    )
    return r.status_code


def logged_in(client: FlaskClient) -> bool:
    return client.get("/visits/today").status_code == 200


# --- secret key -------------------------------------------------------------------


def test_without_a_secret_key_a_random_one_is_kept_in_the_instance_folder(tmp_path: Path) -> None:
    first = instance_secret_key(tmp_path)
    assert len(first) == 64 and first != "dev-only-change-me"
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert instance_secret_key(tmp_path) == first  # kept across restarts
    other = tmp_path / "other"
    assert instance_secret_key(other) != first  # never shared between installations


# --- sessions ---------------------------------------------------------------------


def test_a_cookie_copied_before_logout_is_worthless_after_it(
    app: Flask, world: World, client: FlaskClient
) -> None:
    assert login(client) == 302 and logged_in(client)
    stolen = client.get_cookie("session")
    assert stolen is not None
    token = csrf_from(client.get("/visits/today").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen.value)
    assert not logged_in(thief)
    ended = db.session.scalars(select(LoginSession)).all()
    assert [s.end_reason for s in ended] == ["logout"]


def test_idle_and_absolute_timeouts_end_the_session(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    assert login(client) == 302
    clock.advance(minutes=29)
    assert logged_in(client)  # activity keeps it alive …
    clock.advance(minutes=31)
    assert not logged_in(client)  # … 31 idle minutes end it
    assert login(client) == 302
    for _ in range(12 * 4):  # busy all day, never idle, but 12 hours is the limit
        clock.advance(minutes=15)
        if not logged_in(client):
            break
    reasons = [
        s.end_reason for s in db.session.scalars(select(LoginSession).order_by(LoginSession.id))
    ]
    assert reasons == ["idle_timeout", "absolute_timeout"]


def test_timeouts_are_configurable(
    database_url: str, clock: FixedClock, make_app: Callable[..., Flask]
) -> None:
    # A setting read when the app is built: an app of its own (the make_app factory).
    app = make_app(database_url, SESSION_IDLE_MINUTES=5)
    fresh_g(app)
    with app.app_context():
        build_world(clock())
        client = app.test_client()
        assert login(client) == 302
        clock.advance(minutes=6)
        assert not logged_in(client)
        db.session.remove()
        db.engine.dispose()


def test_secure_cookie_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import settings_from_env

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    assert settings_from_env()["SESSION_COOKIE_SECURE"] is True


# --- login throttling and timing -------------------------------------------------------


def test_wrong_passwords_are_throttled_per_username(
    app: Flask, world: World, client: FlaskClient
) -> None:
    for _ in range(5):
        assert login(client, password="wrong-pass") == 401
    # The sixth try is refused even with the right password …
    assert login(client) == 429
    # … while another user at the same address is not affected.
    assert login(app.test_client(), "doctor2") == 302


def test_successful_logins_are_never_throttled(app: Flask, world: World) -> None:
    for _ in range(8):
        assert login(app.test_client()) == 302


def test_an_unknown_user_costs_a_password_check(
    app: Flask, world: World, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.auth.operations as auth_ops

    calls: list[str] = []
    real = auth_ops.check_password_hash

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr(auth_ops, "check_password_hash", counting)
    assert login(client, "nobody-here", "guess-1") == 401
    assert login(client, "doctor", "guess-2") == 401
    assert calls == ["guess-1", "guess-2"]  # the same work on both paths


# --- tokens and users -----------------------------------------------------------------


def run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["users", *args])
    db.session.rollback()
    return result.exit_code, result.output


def test_tokens_expire_record_their_use_and_can_be_revoked(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    code, token = run(app, "token", "doctor", "--days", "1")
    assert code == 0
    header = {"Authorization": f"Bearer {token.strip()}"}
    assert client.get("/api/v1/catalog/items?q=amx", headers=header).status_code == 200
    code, listing = run(app, "tokens", "doctor")
    assert code == 0 and "active" in listing and "last used 2026-10-15 10:00" in listing
    clock.advance(days=1, seconds=1)
    r = client.get("/api/v1/catalog/items?q=amx", headers=header)
    assert r.status_code == 401 and "expired" in r.json["message"]
    assert "expired" in run(app, "tokens", "doctor")[1]

    other = world.auth("doctor")
    assert client.get("/api/v1/catalog/items?q=amx", headers=other).status_code == 200
    token_id = db.session.scalars(select(ApiToken.id).order_by(ApiToken.id)).first()
    assert token_id is not None
    assert run(app, "revoke-token", str(token_id))[0] == 0
    assert client.get("/api/v1/catalog/items?q=amx", headers=other).status_code == 401
    assert run(app, "revoke-token", "999999")[0] != 0


def test_default_token_lifetime_is_the_setting(app: Flask, world: World, clock: FixedClock) -> None:
    app.config["API_TOKEN_DAYS"] = 7
    assert run(app, "token", "finance")[0] == 0
    newest = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert newest is not None and newest.expires_at == clock.now + dt.timedelta(days=7)


def test_deactivating_a_user_ends_logins_tokens_and_sessions(
    app: Flask, world: World, client: FlaskClient
) -> None:
    assert login(client) == 302 and logged_in(client)
    code, out = run(app, "deactivate", "doctor")
    assert code == 0 and "deactivated doctor" in out
    assert not logged_in(client)
    assert login(app.test_client()) == 401
    api = app.test_client().get("/api/v1/catalog/items?q=a", headers=world.auth("doctor"))
    assert api.status_code == 401
    assert run(app, "token", "doctor")[0] != 0  # no new token for a deactivated user
    assert run(app, "deactivate", "nobody")[0] != 0


# --- headers and request limits ---------------------------------------------------------


def test_every_response_carries_the_security_headers(world: World, client: FlaskClient) -> None:
    login_page = client.get("/login")
    api = client.get("/api/v1/catalog/items?q=a", headers=world.auth("doctor"))
    static = client.get("/static/web/app.css")
    static.close()
    for r in (login_page, api, static):
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
    assert login_page.headers["Cache-Control"] == "no-store"
    assert api.headers["Cache-Control"] == "no-store"
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_pages_carry_no_inline_script_or_style_attributes(
    world: World, client: FlaskClient
) -> None:
    assert login(client) == 302
    visit = client.post(
        "/api/v1/visits",
        json={
            "clinic": "HD001",
            "patient_id_number": world.ids["insured_village"],
            "lines": [{"item": "DX001", "quantity": "1"}],
        },
        headers={**world.auth("doctor"), "Idempotency-Key": "csp-1"},
    ).json
    reviewer = client.application.test_client()
    assert login(reviewer, "finance") == 302
    for who, path in [
        (client, "/visits/new"),
        (client, "/visits/today"),
        (client, f"/visits/{visit['id']}/receipt"),
        (client.application.test_client(), "/login"),
        (reviewer, "/finance?month=2026-10"),
        (reviewer, "/board?month=2026-10"),
        (reviewer, "/reconcile?month=2026-10"),
    ]:
        response = who.get(path)
        assert response.status_code == 200, path
        html = response.text
        assert not re.search(r"\son[a-z]+=", html), path
        assert " style=" not in html, path
        for script in re.findall(r"<script([^>]*)>", html):
            assert "src=" in script or "application/json" in script, path


def test_a_deeply_nested_body_is_refused_without_recursion(
    world: World, client: FlaskClient
) -> None:
    body = "[" * 100_000 + "]" * 100_000
    r = client.post(
        "/api/v1/visits/quote",
        data=body,
        headers={**world.auth("doctor"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "nested" in r.json["message"]
    assert json_depth(b'{"a": "[[[[[[", "b": [1, {"c": 2}]}') == 3


def test_a_large_body_is_refused(world: World, client: FlaskClient) -> None:
    r = client.post(
        "/api/v1/visits/quote",
        data=b"x" * (3 * 1024 * 1024),
        headers={**world.auth("doctor"), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json["status"] == 413


def test_a_wrong_method_answers_405_with_allow(world: World, client: FlaskClient) -> None:
    r = client.get("/api/v1/visits/quote", headers=world.auth("doctor"))
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    assert r.json["status"] == 405


# --- database trouble -------------------------------------------------------------------


def test_an_unreachable_database_answers_503_and_recovers(
    tmp_path: Path, sqlite_template: Path, clock: FixedClock
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    path = folder / "app.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "TESTING": True,
            "SECRET_KEY": "test",
            "CLOCK": clock,
        }
    )
    with app.app_context():
        world = build_world(clock())
        db.session.remove()
        db.engine.dispose()
    client = app.test_client()
    headers = world.auth("doctor")
    assert client.get("/api/v1/catalog/items?q=a", headers=headers).status_code == 200

    moved = tmp_path / "moved"
    folder.rename(moved)  # the database disappears (a lost mount, a dead server)
    with app.app_context():
        db.engine.dispose()
    r = client.get("/api/v1/catalog/items?q=a", headers=headers)
    assert r.status_code == 503 and r.headers["Retry-After"] == "30"
    assert r.json["codes"] == {"_": "unavailable"}
    token = csrf_from(client.get("/login").text)
    page = client.post("/login", data={"csrf_token": token, "username": "doctor", "password": "x"})
    assert page.status_code == 503 and "系统繁忙" in page.text

    moved.rename(folder)  # it comes back: the next request works with no restart
    assert client.get("/api/v1/catalog/items?q=a", headers=headers).status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_postgres_timeouts_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import engine_options

    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT", "7")
    options = engine_options("postgresql+psycopg://u@h/db")
    args = options["connect_args"]
    assert args["connect_timeout"] == 3
    assert args["options"] == "-c statement_timeout=7000 -c lock_timeout=7000"
    assert engine_options("sqlite:///x")["connect_args"] == {"timeout": 7}


def test_a_database_that_stays_locked_answers_503_not_a_hang(
    database_url: str, clock: FixedClock
) -> None:
    """Another process holds the lock longer than the statement timeout allows."""
    sqlite = database_url.startswith("sqlite")
    connect_args = {"timeout": 0.2} if sqlite else {"options": "-c statement_timeout=200"}
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "connect_args": connect_args},
            "TESTING": True,
            "SECRET_KEY": "test",
            "CLOCK": clock,
        }
    )
    with app.app_context():
        world = build_world(clock())
        db.session.remove()
    client = app.test_client()
    body = {
        "clinic": "HD001",
        "patient_id_number": world.ids["insured_village"],
        "lines": [{"item": "DX001", "quantity": "1"}],
    }
    headers = {**world.auth("doctor"), "Idempotency-Key": "locked-1"}
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    blocker = engine.connect()
    try:
        if sqlite:
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.exec_driver_sql("BEGIN")
            blocker.exec_driver_sql("LOCK TABLE clinic IN ACCESS EXCLUSIVE MODE")
        r = client.post("/api/v1/visits", json=body, headers=headers)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "30"
    finally:
        blocker.exec_driver_sql("ROLLBACK")
        blocker.close()
        engine.dispose()
    # Once the lock is gone the same request goes through: nothing half-written.
    assert client.post("/api/v1/visits", json=body, headers=headers).status_code == 201
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- the request log -----------------------------------------------------------------


def test_each_request_is_one_json_log_line_without_personal_data(
    world: World, client: FlaskClient
) -> None:
    lines: list[dict[str, object]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(record.getMessage()))

    number = world.ids["insured_village"]
    handler = Collect()
    logging.getLogger("yiyuan.requests").addHandler(handler)
    try:
        client.post(
            "/api/v1/residents/eligibility",
            json={"id_number": number},
            headers=world.auth("doctor"),
        )
        client.get(f"/api/v1/catalog/items?q={number}", headers=world.auth("doctor"))
    finally:
        logging.getLogger("yiyuan.requests").removeHandler(handler)
    assert len(lines) == 2
    assert lines[0]["user"] == "doctor" and lines[0]["method"] == "POST"
    assert lines[0]["route"] == "/api/v1/residents/eligibility"
    assert set(lines[0]) == {"time", "user", "method", "route", "status", "duration_ms"}
    assert number not in json.dumps(lines) and number[:14] not in json.dumps(lines)
