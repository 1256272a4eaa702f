"""The clinic-month: one statement row per clinic and month, and its transition history.

The row lives here, below both visits and settlement, because it is the lock
both take (:func:`app.periods.operations.lock_clinic_month`).  A statement row
exists for every clinic-month that has had a visit (created by the first visit,
under the lock that also closes the submit race) or a transition.  While
``open`` its figures are computed live from the visits; on submit they are
stored, and a check proves they still match.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime
from app.extensions import Model
from app.ledger import FIGURES
from app.places.models import Clinic

STATUSES = ("open", "submitted", "reviewed", "paid")


class Statement(Model):
    __tablename__ = "statement"
    __table_args__ = (
        UniqueConstraint("clinic_id", "month"),
        CheckConstraint("status IN ('open', 'submitted', 'reviewed', 'paid')", name="status_known"),
        CheckConstraint(
            "status = 'open' OR (visits IS NOT NULL AND fiscal IS NOT NULL)",
            name="frozen_figures_stored",
        ),
        # What is paid is the frozen backstop plus the adjustment lines frozen
        # with the payment (SPEC §7): nothing more, nothing less.
        CheckConstraint(
            "status <> 'paid' OR (paid_on IS NOT NULL AND paid_amount = fiscal + paid_adjustments)",
            name="paid_in_full",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10), default="open")

    # Figures frozen at submit (NULL while open): one column per declared figure
    # (app.ledger.FIGURES), added below the class.  The type checker reads these
    # names; the mapping is made from the declaration.
    if TYPE_CHECKING:
        visits: Mapped[int | None]
        programme_visits: Mapped[int | None]
        injections: Mapped[int | None]
        total: Mapped[int | None]
        in_scope: Mapped[int | None]
        fund: Mapped[int | None]
        fiscal: Mapped[int | None]
        registration: Mapped[int | None]
        injection: Mapped[int | None]
        copay: Mapped[int | None]
        self_pay: Mapped[int | None]
        patient: Mapped[int | None]

    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(60))
    paid_amount: Mapped[int | None]
    # Σ of the statement's adjustment lines when it was paid (0 until then).
    paid_adjustments: Mapped[int] = mapped_column(default=0, server_default="0")

    clinic: Mapped[Clinic] = relationship()
    events: Mapped[list[StatementEvent]] = relationship(
        back_populates="statement", order_by="StatementEvent.id"
    )


for _figure in FIGURES:
    setattr(Statement, _figure.name, mapped_column(_figure.name, Integer, nullable=True))


class StatementEvent(Model):
    """One transition: who moved the statement, when, from what to what, and why."""

    __tablename__ = "statement_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statement.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    from_status: Mapped[str] = mapped_column(String(10))
    to_status: Mapped[str] = mapped_column(String(10))
    # NULL: the system moved it (credit-first review, auto-submit); ``reason``
    # then names the rule, its policy version and its inputs.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(300), default="")

    @property
    def by_system(self) -> bool:
        return self.actor_id is None

    statement: Mapped[Statement] = relationship(back_populates="events")
