"""The platform's settlement of each visit, every message exchanged, the daily sign-in.

Invariants enforced by the database:

* one settlement per visit (``uq_insurance_settlement_visit``), so a visit is
  never settled twice by this system, whatever runs at once;
* a settled row carries the platform's ids and its figures obey the identity
  ``fund + fiscal + patient = expected_fund + expected_fiscal + expected_patient``
  (the visit's total) with every part ≥ 0 (``settled_identity``);
* a ``msgid`` is stored once (``uq_insurance_exchange_msgid``): an exchange row
  is written *before* its message is sent, so after any crash a message that
  may have reached the platform is known, and is reversed (2601) before its
  step is tried again.

The recorded visit row is never touched: its expected figures stay as
recorded, and the settlement's difference reaches the statements as an
adjustment line (read by :mod:`app.insurance.queries`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, UTCDateTime
from app.extensions import Model

# pending: not yet settled (to be retried); settled; failed: handed to a person
# after repeated failures (still retried when told to); reversed: the visit was
# voided and its settlement undone.
STATUSES = ("pending", "settled", "failed", "reversed")


class InsuranceSettlement(Model):
    __tablename__ = "insurance_settlement"
    __table_args__ = (
        UniqueConstraint("visit_id", name="uq_insurance_settlement_visit"),
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
        CheckConstraint(
            "status IN ('pending', 'settled', 'failed', 'reversed')", name="status_known"
        ),
        CheckConstraint(
            "status <> 'settled' OR (setl_id IS NOT NULL AND mdtrt_id IS NOT NULL "
            "AND fund IS NOT NULL AND fiscal IS NOT NULL AND patient IS NOT NULL "
            "AND fund >= 0 AND fiscal >= 0 AND patient >= 0 "
            "AND fund + fiscal + patient = expected_fund + expected_fiscal + expected_patient)",
            name="settled_identity",
        ),
        Index("ix_insurance_settlement_due", "status", "next_attempt_at"),
        Index("ix_insurance_settlement_statement", "clinic_id", "statement_month"),
        Index("ix_insurance_settlement_clinic_month", "clinic_id", "visit_month"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId)
    visit_month: Mapped[str] = mapped_column(String(7))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    receipt_number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))
    programme: Mapped[bool]
    # What was claimed (app.insurance.rules.Claim as JSON) and the expected split.
    claim: Mapped[str] = mapped_column(Text)
    fees: Mapped[int]  # registration + injection: the programme's own, never sent
    self_pay: Mapped[int]
    expected_fund: Mapped[int]
    expected_fiscal: Mapped[int]
    expected_patient: Mapped[int]
    expected_lines: Mapped[str] = mapped_column(Text)  # JSON: feedetl_sn → fund_base
    # How far the platform got (each step's id once known).
    psn_no: Mapped[str | None] = mapped_column(String(30))
    insutype: Mapped[str | None] = mapped_column(String(6))
    insured_on_platform: Mapped[bool | None]
    mdtrt_id: Mapped[str | None] = mapped_column(String(40))
    visit_info_sent: Mapped[bool] = mapped_column(default=False)
    chrg_bchno: Mapped[str | None] = mapped_column(String(40))
    fee_results: Mapped[str | None] = mapped_column(Text)  # JSON of 2204's result rows
    # The fund of the platform's pre-settlement (2206), answered before 2207 is sent.
    pre_fund: Mapped[int | None]
    setl_id: Mapped[str | None] = mapped_column(String(40))
    medins_setl_id: Mapped[str | None] = mapped_column(String(40))
    setlinfo: Mapped[str | None] = mapped_column(Text)  # JSON: amounts in fen
    # The settled split (SPEC §7), and why the fund differs from the expected one.
    fund: Mapped[int | None]
    fiscal: Mapped[int | None]
    patient: Mapped[int | None]
    why: Mapped[str] = mapped_column(String(100), default="")
    # fiscal − expected_fiscal: the statement line; on statement_month (the visit's
    # month unless that was already paid, then the clinic's next unpaid one).
    adjustment: Mapped[int] = mapped_column(default=0)
    statement_month: Mapped[str | None] = mapped_column(String(7))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    # Finance paid the statement at the expected figures while this was pending.
    # The visit was voided: its settlement is reversed (now or by the retry loop), never made.
    voided: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def why_codes(self) -> list[str]:
        return [w for w in self.why.split(",") if w]


# sending: written, not yet answered (after a crash: unknown); answered (infcode
# in the row); unreachable: never left this host (connect refused/timed out);
# unknown: sent, no answer (a read time-out); reversed: an unknown call undone by 2601.
EXCHANGE_STATES = ("sending", "answered", "unreachable", "unknown", "reversed")


class InsuranceExchange(Model):
    """One message to the platform and its answer, as sent and received (SPEC §9)."""

    __tablename__ = "insurance_exchange"
    __table_args__ = (
        UniqueConstraint("msgid", name="uq_insurance_exchange_msgid"),
        CheckConstraint(
            "state IN ('sending', 'answered', 'unreachable', 'unknown', 'reversed')",
            name="state_known",
        ),
        Index("ix_insurance_exchange_settlement", "settlement_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    settlement_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("insurance_settlement.id"))
    fixmedins_code: Mapped[str] = mapped_column(String(12))
    infno: Mapped[str] = mapped_column(String(4))
    msgid: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(12))
    request: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    infcode: Mapped[str | None] = mapped_column(String(10))
    err_msg: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    elapsed_ms: Mapped[int | None]


class InsuranceSignIn(Model):
    """The day's 9001 sign-in of an institution: its ``sign_no`` goes in every envelope."""

    __tablename__ = "insurance_sign_in"

    fixmedins_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    sign_no: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MessageSequence(Model):
    """The last ``msgid`` sequence used per institution and second (4 digits, 0–9999)."""

    __tablename__ = "insurance_msg_sequence"

    fixmedins_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    last: Mapped[int] = mapped_column(BigId, default=0)
