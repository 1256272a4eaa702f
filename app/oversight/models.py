"""Receipt verification codes and the patients' answers (社会监督).

Invariants: a visit has at most one code and a code names one visit (both
unique); codes are random, never derived from the visit, so they cannot be
enumerated; answers are append-only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigId, UTCDateTime
from app.extensions import Model
from app.visits.models import Visit


class ReceiptCode(Model):
    __tablename__ = "receipt_code"

    visit_id: Mapped[int] = mapped_column(BigId, ForeignKey("visit.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    visit: Mapped[Visit] = relationship()


class ReceiptFeedback(Model):
    """A patient's answer to "were you asked to pay more than this?"."""

    __tablename__ = "receipt_feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId, ForeignKey("visit.id"), index=True)
    asked_more: Mapped[bool]
    said_paid: Mapped[int | None]  # fen the patient says he paid, when he says more
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class VisitCheck(Model):
    """A check that fired when the visit was recorded (事前审核): append-only.

    The rule, its severity then, the facts it fired on, the doctor's reason
    (for a warning) and the policy version whose settings applied.
    """

    __tablename__ = "visit_check"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId, ForeignKey("visit.id"), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(30), default="")  # the item code, if any
    facts: Mapped[str] = mapped_column(Text)  # JSON object of strings
    reason: Mapped[str | None] = mapped_column(String(200))
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
