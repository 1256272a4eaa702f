"""Read-only selects about users and their credentials."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.auth.models import ApiToken, User
from app.extensions import db


def tokens_of(user: User) -> Sequence[ApiToken]:
    """Every token the user was ever issued, oldest first."""
    return db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).all()
