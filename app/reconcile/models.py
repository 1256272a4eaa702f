"""The fund's settlement files and rows, the findings of a reconciliation, and adjustments.

Invariants enforced by the database:

* a settlement file is stored once per district, month and content digest
  (re-importing the same file changes nothing), and a settlement id once;
* the backstop changes only through the statements' adjustment lines
  (:class:`app.settlement.models.StatementAdjustment`, append-only), whose
  sum per visit is ``fund_computed - fund_paid`` of its last finding.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.database import BigId, UTCDateTime
from app.extensions import Model
from app.places.models import Clinic


class FundFile(Model):
    __tablename__ = "fund_file"
    __table_args__ = (UniqueConstraint("district_code", "month", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    month: Mapped[str] = mapped_column(String(7))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class FundSettlement(Model):
    """One settlement (or reversal) as the fund reported it; money in fen."""

    __tablename__ = "fund_settlement"
    __table_args__ = (
        Index("ix_fund_settlement_visit_key", "insurance_code", "mdtrt_id"),
        Index("ix_fund_settlement_own_number", "insurance_code", "medins_setl_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("fund_file.id"), index=True)
    line: Mapped[int]
    insurance_code: Mapped[str] = mapped_column(String(30))
    setl_id: Mapped[str] = mapped_column(String(40), unique=True)
    mdtrt_id: Mapped[str] = mapped_column(String(40))
    certno: Mapped[str] = mapped_column(String(18))
    setl_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    medfee_sumamt: Mapped[int]
    inscp_scp_amt: Mapped[int]
    act_pay_dedc: Mapped[int]
    hifp_pay: Mapped[int]
    fund_pay_sumamt: Mapped[int]
    psn_cash_pay: Mapped[int]
    # The platform's fuller columns (issue 21): "" / 0 when the file had none.
    medins_setl_id: Mapped[str] = mapped_column(String(40), default="", server_default="")
    psn_no: Mapped[str] = mapped_column(String(30), default="", server_default="")
    insutype: Mapped[str] = mapped_column(String(6), default="", server_default="")
    med_type: Mapped[str] = mapped_column(String(6), default="", server_default="")
    refd_setl_flag: Mapped[str] = mapped_column(String(1), default="", server_default="")
    acct_pay: Mapped[int] = mapped_column(default=0, server_default="0")
    psn_part_amt: Mapped[int] = mapped_column(default=0, server_default="0")
    fulamt_ownpay_amt: Mapped[int] = mapped_column(default=0, server_default="0")
    overlmt_selfpay: Mapped[int] = mapped_column(default=0, server_default="0")
    preselfpay_amt: Mapped[int] = mapped_column(default=0, server_default="0")
    hifmi_pay: Mapped[int] = mapped_column(default=0, server_default="0")
    maf_pay: Mapped[int] = mapped_column(default=0, server_default="0")
    oth_pay: Mapped[int] = mapped_column(default=0, server_default="0")


class FundFinding(Model):
    """The outcome of the last reconciliation of a district-month, per visit or row.

    Findings are a report, recomputed on every import for the month; money
    moves only through the statement's adjustment lines
    (:class:`app.settlement.models.StatementAdjustment`).
    """

    __tablename__ = "fund_finding"
    __table_args__ = (
        Index("ix_fund_finding_month", "district_code", "month", "outcome"),
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"))
    month: Mapped[str] = mapped_column(String(7))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"))
    visit_id: Mapped[int | None] = mapped_column(BigId)
    visit_month: Mapped[str | None] = mapped_column(String(7))
    receipt_number: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(30))
    fund_computed: Mapped[int]
    fund_paid: Mapped[int]
    backstopped: Mapped[bool]
    setl_ids: Mapped[str] = mapped_column(String(400), default="")
    # How the counted row was matched (app.reconcile.rules.MatchedBy); "" for none.
    matched_by: Mapped[str] = mapped_column(String(20), default="", server_default="")

    clinic: Mapped[Clinic | None] = relationship()

    @property
    def difference(self) -> int:
        return self.fund_computed - self.fund_paid


class DailyDifference(Model):
    """One settlement on which the platform's daily check (3202) and this system disagree.

    Found by ``flask reconcile daily``; a person moves it ``pending → checked →
    resolved`` (待处理 / 已核对 / 已平账) with a reason, every change audited.
    Found once per clinic, day, settlement and sign: a re-run adds nothing.
    """

    __tablename__ = "daily_difference"
    __table_args__ = (
        UniqueConstraint("clinic_id", "day", "setl_id", "negative"),
        Index("ix_daily_difference_day", "day", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    day: Mapped[dt.date]
    insutype: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(20))
    setl_id: Mapped[str] = mapped_column(String(40))
    mdtrt_id: Mapped[str] = mapped_column(String(40), default="")
    psn_no: Mapped[str] = mapped_column(String(30), default="")
    negative: Mapped[bool] = mapped_column(default=False)
    refd_setl_flag: Mapped[str] = mapped_column(String(1), default="")
    memo: Mapped[str] = mapped_column(String(100), default="")
    medfee: Mapped[int]
    fund: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    found_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")

    clinic: Mapped[Clinic] = relationship()
    changed_by: Mapped[User | None] = relationship()
