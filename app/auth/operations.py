"""Creating users and API tokens; checking passwords and tokens.

Tokens are random (``secrets.token_urlsafe``) and only their SHA-256 is
stored, so the database never holds a usable credential; passwords are hashed
with werkzeug's salted scrypt/pbkdf2.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth.models import ROLES, ApiToken, User
from app.database import unit_of_work
from app.errors import InvalidInput, NotFound, Problem
from app.extensions import db
from app.places.models import Clinic, District, Town

_USERNAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    username: str,
    password: str,
    role: str,
    *,
    clinic_code: str | None = None,
    district_code: str | None = None,
    town_code: str | None = None,
    display_name: str = "",
) -> User:
    """Create a user with a role and the scope that role needs."""
    problems: list[Problem] = []
    if not username or len(username) > 60:
        problems.append(Problem("username", "must be 1 to 60 characters"))
    elif not _USERNAME.match(username):
        problems.append(Problem("username", "may hold only letters, digits, '.', '_' and '-'"))
    if len(display_name) > 60:
        problems.append(Problem("display_name", "must be at most 60 characters"))
    # A scope option the role does not use is refused, not silently dropped:
    # a reviewer created with --clinic would otherwise see the whole district.
    if role == "doctor" and (district_code or town_code):
        problems.append(Problem("district", "a doctor's scope is his clinic; give only the clinic"))
    if role in ("reviewer", "finance") and clinic_code:
        problems.append(Problem("clinic", f"a {role} has a district (and town), not a clinic"))
    if role == "admin" and (clinic_code or district_code or town_code):
        problems.append(Problem("role", "an admin sees every district; give no clinic or district"))
    if len(password) < 8:
        problems.append(Problem("password", "must be at least 8 characters"))
    if role not in ROLES:
        problems.append(Problem("role", f"must be one of {', '.join(ROLES)}"))
    with unit_of_work() as session:
        if session.scalar(select(User).where(User.username == username)):
            problems.append(Problem("username", "is already taken"))
        clinic = None
        if role == "doctor":
            clinic = session.scalar(select(Clinic).where(Clinic.code == (clinic_code or "")))
            if clinic is None:
                problems.append(Problem("clinic", f"unknown clinic {clinic_code!r}"))
        if role in ("reviewer", "finance"):
            if session.get(District, district_code or "") is None:
                problems.append(Problem("district", f"unknown district {district_code!r}"))
            if town_code:
                town = session.get(Town, town_code)
                if town is None or town.district_code != district_code:
                    problems.append(Problem("town", f"unknown town {town_code!r} in the district"))
        if problems:
            raise InvalidInput(problems)
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=generate_password_hash(password),
            role=role,
            clinic_id=clinic.id if clinic else None,
            district_code=clinic.district_code if clinic else district_code,
            town_code=(clinic.town_code if clinic else town_code) or None,
        )
        session.add(user)
    return user


def issue_token(username: str, now: dt.datetime) -> str:
    """A new API token for the user; the plain token is returned once, never stored."""
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(Problem("username", f"no user {username!r}"))
        token = secrets.token_urlsafe(32)
        session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), created_at=now))
    return token


def user_for_token(token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    row = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.active:
        return None
    return row.user


def user_for_password(username: str, password: str) -> User | None:
    """The user when the password is right; None either way it is wrong."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user
