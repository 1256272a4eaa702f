"""Monthly statements per clinic, their transition history and their adjustment lines.

The rows are defined in :mod:`app.periods.models`, below both visits and
settlement, because the clinic-month row is the lock that recording a visit
and moving a statement both take; settlement names them here as its own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, UTCDateTime
from app.extensions import Model
from app.periods.models import STATUSES, Statement, StatementEvent

__all__ = ["STATUSES", "Statement", "StatementAdjustment", "StatementEvent"]


class StatementAdjustment(Model):
    """A line on a clinic's statement that changes its backstop, for one visit (SPEC §7).

    ``amount`` > 0: the district owes the clinic more (the fund paid less than
    computed); < 0: less.  ``statement_month`` is the statement it is settled
    on, ``belongs_to`` the month of the visit (the same unless that month was
    already paid).  ``source`` says where it comes from: ``fund`` (the fund's
    settlement detail) or ``review`` (a reviewer disallowed the visit).
    Adjustments are append-only: a correction is a new line, never an edit.
    """

    __tablename__ = "statement_adjustment"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="not_zero"),
        CheckConstraint("source IN ('fund', 'review')", name="source_known"),
        Index("ix_statement_adjustment_statement", "clinic_id", "statement_month"),
        # belongs_to is the visit's month: with the id, the visit's key (app.visits.models).
        ForeignKeyConstraint(["visit_id", "belongs_to"], ["visit.id", "visit.month"]),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    statement_month: Mapped[str] = mapped_column(String(7))
    belongs_to: Mapped[str] = mapped_column(String(7))
    visit_id: Mapped[int] = mapped_column(BigId, index=True)
    receipt_number: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(30))
    fund_computed: Mapped[int]
    fund_paid: Mapped[int]
    amount: Mapped[int]
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
