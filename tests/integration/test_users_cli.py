"""``flask users create|token|list`` on both databases."""

from __future__ import annotations

from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from app.auth.models import ApiToken, User
from app.auth.operations import user_for_password, user_for_token
from app.extensions import db
from tests.conftest import FixedClock
from tests.factories import build_world


def run(app: Flask, *args: str, input: str | None = None) -> Result:
    result = app.test_cli_runner().invoke(args=["users", *args], input=input)
    db.session.rollback()
    return result


def user(username: str) -> User | None:
    found = db.session.scalar(select(User).where(User.username == username))
    return found


def user_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(User)) or 0
    db.session.rollback()
    return count


def test_create_each_role(app: Flask, clock: FixedClock) -> None:
    build_world(clock.now)
    before = user_count()

    result = run(
        app,
        "create",
        "wang",
        "--role",
        "doctor",
        "--clinic",
        "HD001",
        "--display-name",
        "王医生",
        "--password-stdin",
        input="long-enough-pw\n",
    )
    assert result.exit_code == 0, result.output
    assert "created wang (doctor, clinic HD001)" in result.stdout
    wang = user("wang")
    assert wang is not None and wang.display_name == "王医生"
    assert wang.district_code == "440114" and wang.town_code == "440114100"
    assert user_for_password("wang", "long-enough-pw") is not None
    db.session.rollback()

    result = run(
        app,
        "create",
        "town_li",
        "--role",
        "reviewer",
        "--district",
        "440114",
        "--town",
        "440114101",
        "--password-stdin",
        input="long-enough-pw\n",
    )
    assert result.exit_code == 0, result.output
    li = user("town_li")
    assert li is not None and (li.role, li.district_code, li.town_code, li.clinic_id) == (
        "reviewer",
        "440114",
        "440114101",
        None,
    )
    db.session.rollback()

    result = run(
        app,
        "create",
        "fin",
        "--role",
        "finance",
        "--district",
        "440114",
        "--password-stdin",
        input="long-enough-pw\n",
    )
    assert result.exit_code == 0, result.output
    result = run(
        app, "create", "root", "--role", "admin", "--password-stdin", input="pw-pw-pw-pw\n"
    )
    assert result.exit_code == 0, result.output
    assert user_count() == before + 4


def test_password_prompt_is_hidden_and_confirmed(app: Flask, clock: FixedClock) -> None:
    build_world(clock.now)
    result = run(app, "create", "chen", "--role", "admin", input="secret-pass-1\nsecret-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "secret-pass-1" not in result.output
    assert user_for_password("chen", "secret-pass-1") is not None
    db.session.rollback()

    mismatch = run(app, "create", "zhou", "--role", "admin", input="secret-pass-1\nother-pass-22\n")
    assert mismatch.exit_code != 0
    assert user("zhou") is None


def test_errors_name_the_field(app: Flask, clock: FixedClock) -> None:
    build_world(clock.now)
    before = user_count()
    cases = [
        (["create", "x1", "--role", "doctor", "--clinic", "NOPE"], "clinic: unknown clinic 'NOPE'"),
        (["create", "x2", "--role", "doctor"], "clinic: unknown clinic None"),
        (
            ["create", "x3", "--role", "reviewer", "--district", "999999"],
            "district: unknown district '999999'",
        ),
        (
            ["create", "x4", "--role", "finance", "--district", "440114", "--town", "440112100"],
            "town: unknown town '440112100' in the district",
        ),
        (["create", "doctor", "--role", "admin"], "username: is already taken"),
        (["create", "bad name", "--role", "admin"], "username: may hold only letters"),
        (
            ["create", "x5", "--role", "reviewer", "--district", "440114", "--clinic", "HD001"],
            "clinic: a reviewer has a district (and town), not a clinic",
        ),
        (["create", "x6", "--role", "admin", "--district", "440114"], "role: an admin sees every"),
    ]
    for args, message in cases:
        result = run(app, *args, "--password-stdin", input="long-enough-pw\n")
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    short = run(app, "create", "x7", "--role", "admin", "--password-stdin", input="short\n")
    assert short.exit_code == 1
    assert "password: must be at least 8 characters" in short.stderr
    bad_role = run(app, "create", "x8", "--role", "boss", "--password-stdin", input="x" * 9)
    assert bad_role.exit_code == 2
    assert user_count() == before


def test_token(app: Flask, clock: FixedClock) -> None:
    build_world(clock.now)
    tokens_before = db.session.scalar(select(func.count()).select_from(ApiToken))
    db.session.rollback()
    result = run(app, "token", "reviewer")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) >= 40
    owner = user_for_token(token, clock.now)
    assert owner is not None and owner.username == "reviewer"
    stored = db.session.scalar(select(func.count()).select_from(ApiToken))
    assert stored == (tokens_before or 0) + 1
    # Only the hash is kept.
    assert db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token)) is None
    db.session.rollback()

    missing = run(app, "token", "nobody")
    assert missing.exit_code == 1
    assert "username: no user 'nobody'" in missing.stderr


def test_list(app: Flask, clock: FixedClock) -> None:
    build_world(clock.now)
    result = run(app, "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == user_count()
    assert any(line.startswith("doctor ") and "clinic HD001" in line for line in lines)
    assert any(
        line.startswith("town_reviewer") and "district 440114 town 440114101" in line
        for line in lines
    )
    assert any(line.startswith("admin ") for line in lines)
