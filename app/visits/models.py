"""Recorded visits, their lines, receipt counters, fund usage and idempotency keys.

Invariants enforced by the database, not only by the engine:

* ``ck_visit_identity``: ``total = patient + fund + fiscal``;
* ``ck_visit_total_parts``: ``total = lines_total + registration + injection_fee``;
* ``ck_visit_patient_parts``: ``patient = registration + injection_fee + copay + self_pay``;
* ``ck_visit_scope_parts``: ``lines_total = in_scope + self_pay`` and
  ``in_scope = fund + fiscal + copay``;
* ``ck_visit_not_negative``: every part ≥ 0;
* a receipt number is unique: its sequence comes from :class:`ReceiptCounter`,
  incremented under a lock in the visit's own transaction, so it is gapless
  and never handed out twice; the number is made of the clinic's (unique)
  code, the year and that sequence, so it is unique by construction and needs
  no index of its own.  The database's own ``(clinic, year, seq, month)``
  unique constraint adds the month because PostgreSQL requires the partition
  key in every unique constraint of a partitioned table (below): it refuses a
  duplicate within a month, the counter across months;
* on PostgreSQL ``visit`` and ``visit_line`` are partitioned by month
  (``PARTITION BY LIST (month)``, one partition per month, made ahead by
  ``flask visits partitions`` or on demand, :mod:`app.visits.partitions`), so
  a month can be detached and dropped without touching the others.  Their
  primary keys are ``(id, month)`` there (made by the migration; the model's
  key stays ``id``, which the sequence alone keeps unique), a line carries its
  visit's ``month`` and points at ``(visit_id, month)``, and every table that
  points at a visit carries its month beside ``visit_id`` (``visit_month``; an
  adjustment line's ``belongs_to``).  SQLite is not
  partitioned: ``id`` stays its rowid key and ``uq_visit_id_month`` is the
  composite key's target there;
* visit, line and idempotency-key ids are 64-bit on PostgreSQL (a province
  records ≈ 10 M visits and ≈ 30 M lines a month);
* an idempotency key is unique per user;
* :class:`ClinicMonthItem` holds, per clinic, month and item as printed, the
  sums of the month's non-voided lines: written by the same unit of work that
  records (added) or voids (taken off) a visit, under the clinic-month lock, so
  it always equals ``GROUP BY`` over the lines (``flask statements
  check-rollup`` proves it);
* :class:`ClinicDay` holds, per clinic and day, the statement's figures of the
  day's non-voided visits, kept the same way (``ck_clinic_day_identity``: the
  sums keep ``total = patient + fund + fiscal``).

Visits are never updated in place except to be voided (reason, actor, time).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigId, UTCDateTime, only_on
from app.extensions import Model
from app.ledger import FIGURES
from app.places.models import Clinic
from app.visits.rules import diagnosis_pairs, diagnosis_text


class Visit(Model):
    __tablename__ = "visit"
    __table_args__ = (
        CheckConstraint("total = patient + fund + fiscal", name="identity"),
        CheckConstraint("total = lines_total + registration + injection_fee", name="total_parts"),
        CheckConstraint(
            "patient = registration + injection_fee + copay + self_pay", name="patient_parts"
        ),
        CheckConstraint(
            "lines_total = in_scope + self_pay AND in_scope = fund + fiscal + copay",
            name="scope_parts",
        ),
        CheckConstraint(
            "total >= 0 AND lines_total >= 0 AND in_scope >= 0 AND self_pay >= 0 AND fund >= 0 "
            "AND fiscal >= 0 AND copay >= 0 AND registration >= 0 AND injection_fee >= 0 "
            "AND patient >= 0 AND fund_base >= 0 AND deductible_applied >= 0",
            name="not_negative",
        ),
        CheckConstraint("programme OR fiscal = 0", name="fiscal_only_in_programme"),
        CheckConstraint(
            "(main_diagnosis IS NULL AND diagnoses = '') OR "
            "(main_diagnosis IS NOT NULL AND diagnoses <> '')",
            name="main_diagnosis_listed",
        ),
        CheckConstraint("(voided_at IS NULL) = (void_reason IS NULL)", name="void_has_reason"),
        UniqueConstraint("clinic_id", "year", "receipt_seq", "month"),
        # The target of the (visit_id, month) foreign keys.  On PostgreSQL the
        # primary key (id, month) is, and a second index would cost every insert.
        only_on("sqlite", UniqueConstraint("id", "month", name="uq_visit_id_month")),
        # The doctor's month and a clinic's statement.
        Index("ix_visit_clinic_month", "clinic_id", "month"),
        # The doctor's today page and daily close.
        Index("ix_visit_clinic_visited_at", "clinic_id", "visited_at"),
        # The month close: the month's id range (its lines) and all its clinics.
        Index("ix_visit_month_id", "month", "id"),
        # The checks at recording: one person's recent visits (app.oversight.checks).
        Index("ix_visit_patient_date", "patient_id_number", "visit_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    patient_id_number: Mapped[str] = mapped_column(String(18))
    visited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Asia/Shanghai calendar of visited_at, stored so months and days aggregate in SQL.
    visit_date: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[str] = mapped_column(String(7))
    year: Mapped[int]
    receipt_seq: Mapped[int]
    receipt_number: Mapped[str] = mapped_column(String(40))

    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
    programme: Mapped[bool]
    insured: Mapped[bool]
    reasons: Mapped[str] = mapped_column(String(200), default="")  # comma-separated codes
    injection: Mapped[bool]
    # The diagnoses (SPEC §4): every code, the main one first, comma-separated
    # ("" for none), and the main one alone for grouping (None for none); their
    # names as the list gave them at the visit, tab-separated in the same order
    # (a name holds no control character: the import refuses them).
    diagnoses: Mapped[str] = mapped_column(String(120), default="")
    main_diagnosis: Mapped[str | None] = mapped_column(String(20))
    diagnosis_names: Mapped[str] = mapped_column(String(520), default="")

    lines_total: Mapped[int]
    registration: Mapped[int]
    injection_fee: Mapped[int]
    in_scope: Mapped[int]
    self_pay: Mapped[int]
    fund_base: Mapped[int]
    deductible_applied: Mapped[int]
    fund: Mapped[int]
    fiscal: Mapped[int]
    copay: Mapped[int]
    patient: Mapped[int]
    total: Mapped[int]

    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The recording doctor's practitioner code (医保医师编码) at the time; None: he had none.
    practitioner_code: Mapped[str | None] = mapped_column(String(30))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    void_reason: Mapped[str | None] = mapped_column(String(200))
    # Captured at a terminal that could not reach the server (issue 25): when the
    # doctor saved it there, and the code on the provisional slip.  The late-entry
    # check measures from captured_at, never from the time it waited in the queue.
    captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    offline_code: Mapped[str | None] = mapped_column(String(40))

    clinic: Mapped[Clinic] = relationship()
    lines: Mapped[list[VisitLine]] = relationship(
        back_populates="visit", order_by="VisitLine.line_no", cascade="all, delete-orphan"
    )
    # The checks at recording that fired (written with the visit, never changed).
    checks: Mapped[list[VisitCheck]] = relationship(order_by="VisitCheck.id", viewonly=True)

    @property
    def voided(self) -> bool:
        return self.voided_at is not None

    @property
    def reason_codes(self) -> list[str]:
        return [r for r in self.reasons.split(",") if r]

    @property
    def diagnosis_codes(self) -> list[str]:
        """The visit's diagnosis codes, the main one first."""
        return [c for c in (self.diagnoses or "").split(",") if c]

    @property
    def diagnosis_list(self) -> list[tuple[str, str]]:
        """(code, name) of each diagnosis, the main one first."""
        return diagnosis_pairs(self.diagnoses or "", self.diagnosis_names or "")

    @property
    def diagnosis_text(self) -> str:
        """The diagnoses as one line: ``J06.900 急性上呼吸道感染；I10.x00 高血压``."""
        return diagnosis_text(self.diagnoses or "", self.diagnosis_names or "")


class VisitLine(Model):
    __tablename__ = "visit_line"
    __table_args__ = (
        # The month: PostgreSQL wants the partition key in every unique constraint.
        UniqueConstraint("visit_id", "line_no", "month"),
        ForeignKeyConstraint(["visit_id", "month"], ["visit.id", "visit.month"]),
        CheckConstraint("amount = in_scope + self_pay", name="amount_parts"),
        CheckConstraint(
            "over_ceiling >= 0 AND over_ceiling <= amount", name="over_ceiling_in_amount"
        ),
        CheckConstraint(
            "quantity > 0 AND unit_price >= 0 AND amount >= 0 AND in_scope >= 0 "
            "AND self_pay >= 0 AND fund_base >= 0",
            name="not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # uq_visit_line_visit_id_line_no_month leads with visit_id: it is the lookup index.
    visit_id: Mapped[int] = mapped_column(BigId)
    # The visit's month (the partition key on PostgreSQL).
    month: Mapped[str] = mapped_column(String(7))
    line_no: Mapped[int]
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_item.id"), index=True)
    # What the catalogue said at the visit: the record does not change if it does.
    item_code: Mapped[str] = mapped_column(String(30))
    item_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))
    insurance_class: Mapped[str] = mapped_column(String(1))
    quantity: Mapped[int]  # thousandths
    unit_price: Mapped[int]
    amount: Mapped[int]
    in_scope: Mapped[int]
    self_pay: Mapped[int]
    fund_base: Mapped[int]
    # The national catalogue's fields on the visit date, as the split used them
    # (SPEC §2.1, §3): the ratio in ten-thousandths and the ceiling in fen per
    # unit where the item had one, and the part of the amount above the ceiling.
    national_code: Mapped[str | None] = mapped_column(String(50))
    fee_class: Mapped[str | None] = mapped_column(String(2))
    selfpay_ratio: Mapped[int | None]
    price_ceiling: Mapped[int | None]
    over_ceiling: Mapped[int] = mapped_column(default=0)

    visit: Mapped[Visit] = relationship(back_populates="lines")


class DispensedPack(Model):
    """A drug traceability code (药品追溯码) of one pack dispensed on a visit line.

    Written with the visit, in its unit of work; never changed.  A code is unique
    within its visit (the recording refuses a repeat); the same code on two
    visits is not refused but flagged (app.stock): a pack is sold once.
    """

    __tablename__ = "dispensed_pack"
    __table_args__ = (
        UniqueConstraint("visit_id", "visit_month", "trace_code"),
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
        Index("ix_dispensed_pack_trace_code", "trace_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId)
    visit_month: Mapped[str] = mapped_column(String(7))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    line_no: Mapped[int]
    item_code: Mapped[str] = mapped_column(String(30))
    trace_code: Mapped[str] = mapped_column(String(40))


class ClinicMonthItem(Model):
    """A clinic's month per item: the sums of its non-voided visits' lines (the item table).

    Keyed as the statement prints an item (code, and the name and unit the
    lines carried), so the statement's per-item table is a read of a few
    hundred rows rather than of the month's lines.  ``lines`` counts the lines
    summed; a row whose lines were all voided stays, at zero, and is not shown.

    No CHECK: voiding takes off what the visit's lines say now, so a line
    edited outside the app would make a CHECK refuse the void; instead the
    drift shows in ``flask statements check-rollup`` (and the edit in
    ``flask audit verify``).
    """

    __tablename__ = "clinic_month_item"

    # (month, clinic) first: the month close reads every clinic of one month.
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    item_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    unit: Mapped[str] = mapped_column(String(20), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)  # thousandths
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    lines: Mapped[int]


class ClinicDay(Model):
    """A clinic's day: the statement's figures summed over its non-voided visits.

    The statement's per-day table and, summed, its totals: the month close
    reads a clinic's ≤ 31 rows instead of grouping the month's visits.  The
    columns are the figures declared in :data:`app.ledger.FIGURES` (counts,
    then money in fen).  Recording adds a visit's figures, voiding takes them
    off, under the clinic-month lock; a day whose visits were all voided stays,
    at zero, and is not shown.  Each visit satisfies the identity, so the sums
    do: the CHECK holds whatever is added or taken off.
    """

    __tablename__ = "clinic_day"
    __table_args__ = (CheckConstraint("total = patient + fund + fiscal", name="identity"),)

    # (month, clinic) first: the month close reads every clinic of one month.
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), primary_key=True)
    visit_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # One column per declared figure (app.ledger.FIGURES), added below the class.


# The day's figures, from their one declaration: counts as integers, money as
# 64-bit fen (a migration adds the column of a figure added to the declaration).
for _figure in FIGURES:
    setattr(
        ClinicDay,
        _figure.name,
        mapped_column(_figure.name, Integer if _figure.is_count else BigInteger, nullable=False),
    )


class ReceiptCounter(Model):
    """Last receipt number used per clinic and year; locked while incremented."""

    __tablename__ = "receipt_counter"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)


class FundUsage(Model):
    """A person's fund paid and deductible used in a calendar year, across clinics."""

    __tablename__ = "fund_usage"
    __table_args__ = (
        CheckConstraint("fund_paid >= 0 AND deductible_used >= 0", name="not_negative"),
    )

    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    fund_paid: Mapped[int] = mapped_column(default=0)
    deductible_used: Mapped[int] = mapped_column(default=0)


class IdempotencyKey(Model):
    """A client's key for one submission: a retry returns the first visit."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    visit_id: Mapped[int] = mapped_column(BigId)
    visit_month: Mapped[str] = mapped_column(String(7))
    # Keys older than the retention window are purged by created_at.
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class DayClose(Model):
    """One close of a clinic's day by its doctor (日结): who, when, and what it closed.

    A day may be closed more than once (``seq`` 1, 2 …).  Each close covers its
    section of the day: the visits recorded since the close before (the first:
    since the day began) and the voids since then of visits closed earlier; its
    figures are that section's, as signed, and never change.  A visit recorded
    into the day after its first close (a late entry, allowed while its month
    is open) is recognised by ``recorded_at > closed_at`` of that first close.
    """

    __tablename__ = "day_close"
    __table_args__ = (
        UniqueConstraint("clinic_id", "day", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(default=1, server_default="1")
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    visits: Mapped[int]
    voided: Mapped[int]
    registration: Mapped[int]
    injection_fee: Mapped[int]
    patient_share: Mapped[int]  # copay + self-pay
    cash: Mapped[int]  # registration + injection fee + patient share
    fund: Mapped[int]
    fiscal: Mapped[int]
    total: Mapped[int]


class VisitCheck(Model):
    """A check that fired when the visit was recorded (事前审核): append-only.

    The rule, its severity then, the facts it fired on, the doctor's reason
    (for a warning) and the policy version whose settings applied.  Screened
    by app.oversight.checks, written by recording in the visit's transaction
    (:func:`app.visits.operations.store_checks`).
    """

    __tablename__ = "visit_check"
    __table_args__ = (
        ForeignKeyConstraint(["visit_id", "visit_month"], ["visit.id", "visit.month"]),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(BigId, index=True)
    visit_month: Mapped[str] = mapped_column(String(7))
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(30), default="")  # the item code, if any
    facts: Mapped[str] = mapped_column(Text)  # JSON object of strings
    reason: Mapped[str | None] = mapped_column(String(200))
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
