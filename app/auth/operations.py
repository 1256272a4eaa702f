"""Users, API tokens and login sessions: creating, checking, ending.

Guarantees:

* tokens and session keys are random (``secrets.token_urlsafe``) and only
  their SHA-256 is stored, so the database never holds a usable credential;
  passwords are hashed with werkzeug's salted scrypt;
* a wrong password and an unknown (or deactivated) user cost the same: both
  run one password-hash check, so usernames cannot be told apart by timing;
* a token stops working when it is revoked, when it expires, or when its user
  is deactivated; a login session ends on logout, after the idle or absolute
  timeout, or on deactivation, and an ended session never comes back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.operations import OPERATOR, audit_login, audit_token, audit_user
from app.auth.models import ROLES, ApiToken, LoginSession, User
from app.database import attached, unit_of_work
from app.errors import InvalidInput, NotFound, Problem, ProblemCode
from app.extensions import db
from app.places.models import Clinic, District, Town

# werkzeug's salted scrypt; the test suite swaps in one round of PBKDF2 (tests/conftest.py).
PASSWORD_HASH_METHOD = "scrypt"
_USERNAME = re.compile(r"^[A-Za-z0-9._-]+$")
# A national practitioner code (医保医师编码): letters and digits, e.g. D440114000123.
_PRACTITIONER_CODE = re.compile(r"^[A-Za-z0-9]{1,30}$")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password, PASSWORD_HASH_METHOD)


def create_user(
    username: str,
    password: str,
    role: str,
    *,
    clinic_code: str | None = None,
    district_code: str | None = None,
    town_code: str | None = None,
    display_name: str = "",
    password_hash: str | None = None,
    practitioner_code: str | None = None,
) -> User:
    """Create a user with a role and the scope that role needs.

    ``password_hash`` is a hash of ``password`` the caller already made
    (:func:`hash_password`), for loading many users who share a password (the
    demo's clinic doctors): scrypt costs a fifth of a second a user.  A
    doctor's ``practitioner_code`` (医保医师编码) goes with every visit he
    records; it is unique.
    """
    problems: list[Problem] = []
    practitioner_code = (practitioner_code or "").strip() or None
    if practitioner_code is not None and not _PRACTITIONER_CODE.match(practitioner_code):
        problems.append(
            Problem(
                "practitioner_code",
                "must be 1 to 30 letters and digits, e.g. D440114000123",
                ProblemCode.BAD_PRACTITIONER_CODE,
            )
        )
    if not username or len(username) > 60:
        problems.append(Problem("username", "must be 1 to 60 characters", ProblemCode.BAD_USERNAME))
    elif not _USERNAME.match(username):
        problems.append(
            Problem(
                "username",
                "may hold only letters, digits, '.', '_' and '-'",
                ProblemCode.BAD_USERNAME,
            )
        )
    if len(display_name) > 60:
        problems.append(
            Problem("display_name", "must be at most 60 characters", ProblemCode.TOO_LONG)
        )
    # A scope option the role does not use is refused, not silently dropped:
    # a reviewer created with --clinic would otherwise see the whole district.
    if role == "doctor" and (district_code or town_code):
        problems.append(
            Problem(
                "district",
                "a doctor's scope is his clinic; give only the clinic",
                ProblemCode.SCOPE_FOR_ROLE,
            )
        )
    if role in ("reviewer", "finance") and clinic_code:
        problems.append(
            Problem(
                "clinic",
                f"a {role} has a district (and town), not a clinic",
                ProblemCode.SCOPE_FOR_ROLE,
            )
        )
    if role == "admin" and (clinic_code or district_code or town_code):
        problems.append(
            Problem(
                "role",
                "an admin sees every district; give no clinic or district",
                ProblemCode.SCOPE_FOR_ROLE,
            )
        )
    if len(password) < 8:
        problems.append(
            Problem("password", "must be at least 8 characters", ProblemCode.PASSWORD_TOO_SHORT)
        )
    if role not in ROLES:
        problems.append(
            Problem("role", f"must be one of {', '.join(ROLES)}", ProblemCode.UNKNOWN_ROLE)
        )
    with unit_of_work() as session:
        if session.scalar(select(User).where(User.username == username)):
            problems.append(Problem("username", "is already taken", ProblemCode.USERNAME_TAKEN))
        if practitioner_code is not None and session.scalar(
            select(User.username).where(User.practitioner_code == practitioner_code)
        ):
            problems.append(
                Problem(
                    "practitioner_code",
                    "is already another user's",
                    ProblemCode.PRACTITIONER_CODE_TAKEN,
                )
            )
        clinic = None
        if role == "doctor":
            clinic = session.scalar(select(Clinic).where(Clinic.code == (clinic_code or "")))
            if clinic is None:
                problems.append(
                    Problem("clinic", f"unknown clinic {clinic_code!r}", ProblemCode.UNKNOWN_CLINIC)
                )
        if role in ("reviewer", "finance"):
            if session.get(District, district_code or "") is None:
                problems.append(
                    Problem(
                        "district",
                        f"unknown district {district_code!r}",
                        ProblemCode.UNKNOWN_DISTRICT,
                    )
                )
            if town_code:
                town = session.get(Town, town_code)
                if town is None or town.district_code != district_code:
                    problems.append(
                        Problem(
                            "town",
                            f"unknown town {town_code!r} in the district",
                            ProblemCode.UNKNOWN_TOWN,
                        )
                    )
        if problems:
            raise InvalidInput(problems)
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=password_hash or hash_password(password),
            role=role,
            clinic_id=clinic.id if clinic else None,
            district_code=clinic.district_code if clinic else district_code,
            town_code=(clinic.town_code if clinic else town_code) or None,
            practitioner_code=practitioner_code,
        )
        session.add(user)
        audit_user(session, OPERATOR, "user.create", user, None)
    return user


def issue_token(username: str, now: dt.datetime, valid_days: int | None = 90) -> str:
    """A new API token for the user; the plain token is returned once, never stored.

    ``valid_days`` of None issues a token that never expires (an explicit
    administrator's choice, shown as such by ``flask users tokens``).
    """
    if valid_days is not None and valid_days < 1:
        raise InvalidInput(Problem("days", "must be at least 1", ProblemCode.BAD_DAYS))
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(Problem("username", f"no user {username!r}", ProblemCode.NOT_FOUND))
        if not user.active:
            raise InvalidInput(
                Problem(
                    "username", f"user {username!r} is deactivated", ProblemCode.USER_DEACTIVATED
                )
            )
        token = secrets.token_urlsafe(32)
        expires = now + dt.timedelta(days=valid_days) if valid_days is not None else None
        row = ApiToken(
            user_id=user.id, token_hash=_token_hash(token), created_at=now, expires_at=expires
        )
        session.add(row)
        audit_token(session, OPERATOR, "token.issue", row, now)
    return token


# Recording the last use costs a write; once a minute per token is plenty.
_TOUCH_EVERY = dt.timedelta(minutes=1)


# The token's row and its user's, in one Core statement (no ORM load, no joined
# eager-loading machinery): every API request pays for this lookup.  Nothing is
# cached across requests, so a revoked or expired token, or a deactivated user,
# is refused by the very next request.
_USER_COLUMNS = tuple(cast(Table, User.__table__).c)
_TOKEN = cast(Table, ApiToken.__table__).c
_TOKEN_LOOKUP = (
    select(
        _TOKEN.id.label("token_id"),
        _TOKEN.expires_at.label("token_expires_at"),
        _TOKEN.last_used_at.label("token_last_used_at"),
        *_USER_COLUMNS,
    )
    .join_from(cast(Table, ApiToken.__table__), cast(Table, User.__table__))
    .where(_TOKEN.token_hash == bindparam("token_hash"), _TOKEN.revoked_at.is_(None))
)


def user_for_token(token: str, now: dt.datetime) -> User | None:
    """The active user a live (unrevoked, unexpired) bearer token belongs to, or None.

    One statement on the session's connection (in the request's transaction, which
    recording carries on); the user is put in the session as loaded from that row,
    so what the request does with it (its clinic, say) works as with an ORM load.
    """
    session = db.session()
    row = session.connection().execute(_TOKEN_LOOKUP, {"token_hash": _token_hash(token)}).first()
    if row is None or not row.active:
        return None
    if row.token_expires_at is not None and row.token_expires_at <= now:
        return None
    if row.token_last_used_at is None or now - row.token_last_used_at >= _TOUCH_EVERY:
        with unit_of_work() as writer:
            writer.execute(
                update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=now)
            )
    return attached(session, User, {column.key: row._mapping[column] for column in _USER_COLUMNS})


def revoke_token(token_id: int, now: dt.datetime) -> ApiToken:
    """Revoke one token by its id (as ``flask users tokens`` lists it)."""
    with unit_of_work() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(Problem("token", f"no token {token_id}", ProblemCode.NOT_FOUND))
        if row.revoked_at is None:
            row.revoked_at = now
            audit_token(session, OPERATOR, "token.revoke", row, now)
    return row


_dummy_hash: str | None = None


def _equal_cost_miss(password: str) -> None:
    """Spend what a real password check costs, for an unknown or inactive user."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_hex(16), PASSWORD_HASH_METHOD)
    check_password_hash(_dummy_hash, password)


def user_for_password(username: str, password: str) -> User | None:
    """The user when the password is right; None either way it is wrong."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _equal_cost_miss(password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def deactivate_user(username: str, now: dt.datetime) -> User:
    """Deactivate a user: no login, every token revoked, every session ended."""
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(Problem("username", f"no user {username!r}", ProblemCode.NOT_FOUND))
        user.active = False
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
            .values(ended_at=now, end_reason="deactivated")
        )
        audit_user(session, OPERATOR, "user.deactivate", user, now)
    return user


# --- login sessions -----------------------------------------------------------


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta
    absolute: dt.timedelta


def start_login_session(user: User, now: dt.datetime) -> str:
    """A new server-side session for ``user``; the key goes in the cookie, only once."""
    key = secrets.token_urlsafe(32)
    with unit_of_work() as session:
        session.add(
            LoginSession(
                key_hash=_token_hash(key), user_id=user.id, started_at=now, last_seen_at=now
            )
        )
        audit_login(session, user.username, True, now)
    return key


def record_failed_login(username: str, now: dt.datetime) -> None:
    """Audit a refused login: the name as typed, never the password."""
    with unit_of_work() as session:
        audit_login(session, username, False, now)


def resume_login_session(key: str, now: dt.datetime, limits: SessionLimits) -> User | None:
    """The user of a live session, which this request keeps alive; None once it has ended.

    A session past its idle or absolute limit is ended here, with the reason,
    so it cannot be revived by a later request with an older clock.
    """
    row = db.session.scalar(select(LoginSession).where(LoginSession.key_hash == _token_hash(key)))
    if row is None or row.ended_at is not None:
        return None
    reason = None
    if now - row.started_at >= limits.absolute:
        reason = "absolute_timeout"
    elif now - row.last_seen_at >= limits.idle:
        reason = "idle_timeout"
    elif not row.user.active:
        reason = "deactivated"
    if reason is not None:
        with unit_of_work() as session:
            session.execute(
                update(LoginSession)
                .where(LoginSession.id == row.id, LoginSession.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        with unit_of_work() as session:
            session.execute(
                update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=now)
            )
    user = db.session.get(User, row.user_id)
    return user


def end_login_session(key: str, now: dt.datetime, reason: str = "logout") -> None:
    """End a session (logout): its cookie is worthless from now on."""
    with unit_of_work() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.key_hash == _token_hash(key), LoginSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
        )
