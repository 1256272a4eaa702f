"""Receipt verification codes and the patients' answers (社会监督).

Invariants: a visit has at most one code and a code names one visit (both
unique); codes are random, never derived from the visit, so they cannot be
enumerated; answers are append-only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigId, UTCDateTime
from app.extensions import Model
from app.visits.models import Visit


class ReceiptCode(Model):
    __tablename__ = "receipt_code"
    __table_args__ = (
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
    )

    visit_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The visit's month: with the id, the visit's key (app.visits.models).
    visit_month: Mapped[str] = mapped_column(String(7))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    visit: Mapped[Visit] = relationship()


class ReceiptFeedback(Model):
    """A patient's answer to "were you asked to pay more than this?"."""

    __tablename__ = "receipt_feedback"
    __table_args__ = (
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
        # One answer per receipt: answering again changes it.
        UniqueConstraint("visit_id", "visit_month", name="uq_receipt_feedback_visit"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId, index=True)
    visit_month: Mapped[str] = mapped_column(String(7))
    asked_more: Mapped[bool]
    said_paid: Mapped[int | None]  # fen the patient says he paid, when he says more
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class VisitDisowned(Model):
    """A resident's "我没有在这天看病" about one of his visits (issue 26 §2): append-only.

    Given on the public receipt check by whoever held one of his receipts and
    the last six characters of his ID number; one answer per visit (a second
    changes nothing).  ``via_visit_id`` is the receipt used to look; who
    answered is never known or kept.
    """

    __tablename__ = "visit_disowned"
    __table_args__ = (
        UniqueConstraint("visit_id", "visit_month"),
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId)
    visit_month: Mapped[str] = mapped_column(String(7))
    via_visit_id: Mapped[int] = mapped_column(BigId)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ClinicFlag(Model):
    """A clinic-month's figure far from its peers' (issue 11 §2), as last computed.

    The numbers are exact fractions written as decimal text (12 places), so
    nothing is rounded twice; ``score`` is the signed modified z-score.
    Recomputing a clinic-month replaces its rows.  A diagnosis-mix flag
    (issue 19 §5) names its diagnosis code; the other figures have none.
    """

    __tablename__ = "clinic_flag"
    __table_args__ = (UniqueConstraint("clinic_id", "month", "figure", "diagnosis"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    month: Mapped[str] = mapped_column(String(7), index=True)
    figure: Mapped[str] = mapped_column(String(30))
    diagnosis: Mapped[str | None] = mapped_column(String(20))  # the code, per-diagnosis flags
    value: Mapped[str] = mapped_column(String(40))
    median: Mapped[str] = mapped_column(String(40))
    mad: Mapped[str] = mapped_column(String(40))
    score: Mapped[str] = mapped_column(String(40))
    peers: Mapped[int]
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


FINDINGS = ("accepted", "disallowed")


class ReviewItem(Model):
    """One visit on an untrusted statement's review worklist, and the reviewer's finding.

    ``why`` lists what put it there (``rule:late_entry``, ``above:10000``,
    ``random``); ``finding`` is NULL until a reviewer decides, then final.
    A disallowed finding carries the (positive) amount taken off the backstop.
    """

    __tablename__ = "review_item"
    __table_args__ = (
        UniqueConstraint("statement_id", "visit_id"),
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
        CheckConstraint(
            "finding IS NULL OR finding IN ('accepted', 'disallowed')", name="finding_known"
        ),
        CheckConstraint(
            "(finding = 'disallowed') = (amount IS NOT NULL AND amount > 0) OR finding IS NULL",
            name="disallowed_has_amount",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statement.id"), index=True)
    visit_id: Mapped[int] = mapped_column(BigId)
    visit_month: Mapped[str] = mapped_column(String(7))
    why: Mapped[str] = mapped_column(String(200))
    finding: Mapped[str | None] = mapped_column(String(12))
    amount: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    visit: Mapped[Visit] = relationship()
