"""Users, their role and scope, and their API tokens (stored hashed)."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime
from app.extensions import Model
from app.places.models import Clinic

ROLES = ("doctor", "reviewer", "finance", "admin")


class User(UserMixin, Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role IN ('doctor', 'reviewer', 'finance', 'admin')", name="role_known"),
        # A doctor belongs to one clinic; reviewers and finance to a district.
        CheckConstraint("role <> 'doctor' OR clinic_id IS NOT NULL", name="doctor_has_clinic"),
        CheckConstraint(
            "role NOT IN ('reviewer', 'finance') OR district_code IS NOT NULL",
            name="district_staff_have_district",
        ),
        # A practitioner code names one person (NULLs, users without one, repeat).
        Index("uq_user_account_practitioner_code", "practitioner_code", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"))
    district_code: Mapped[str | None] = mapped_column(ForeignKey("district.code"))
    town_code: Mapped[str | None] = mapped_column(ForeignKey("town.code"))
    active: Mapped[bool] = mapped_column(default=True)
    # The national practitioner code (医保医师编码) a doctor's visits are sent with.
    practitioner_code: Mapped[str | None] = mapped_column(String(30))

    clinic: Mapped[Clinic | None] = relationship()

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    @property
    def shown_name(self) -> str:
        """The name papers and pages show: the display name, never the login name."""
        return person_name(self.display_name, self.practitioner_code)


def person_name(display_name: str | None, practitioner_code: str | None) -> str:
    """``王建华（D440114000001）``, or either alone: who a doctor is on paper."""
    name = display_name or ""
    if practitioner_code:
        return f"{name}（{practitioner_code}）" if name else practitioner_code
    return name


class ApiToken(Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # sha256 of the token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Tokens expire (API_TOKEN_DAYS); a forgotten token on an old PC stops working.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Updated at most once a minute, so an administrator sees stale tokens.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginSession(Model):
    """One browser login, held on the server so logout and timeouts really end it.

    The cookie carries only the random ``key``; ending the row (logout, idle or
    absolute timeout, deactivation) makes a copied cookie worthless at once.
    """

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship()
