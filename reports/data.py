"""Plain data the renderers print.

This module is the contract between the application (which computes every
figure with SQL and the split engine) and the ReportLab renderers in this
package.  It holds only frozen dataclasses of ``str``/``int``/``bool`` values:
no Flask, no SQLAlchemy, nothing that reads a database or a clock.

Money is always an ``int`` of fen; the renderers format it with
:func:`app.money.format_yuan`.  Dates and times arrive already formatted in
Asia/Shanghai local time (``"2026-10-31"``, ``"2026-10-31 14:05"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The figures are the settlement's own (pure: no Flask, no SQLAlchemy); labels
# for them arrive with each document, already translated.
from app.ledger import Figures

__all__ = [
    "DayRow",
    "DistrictSummaryDocument",
    "Figures",
    "HistoryRow",
    "ItemRow",
    "ReceiptDocument",
    "ReceiptLine",
    "StatementDocument",
    "SummaryRow",
    "SummaryTotals",
]


@dataclass(frozen=True)
class DayRow:
    date: str
    figures: Figures


@dataclass(frozen=True)
class ItemRow:
    code: str
    name: str
    unit: str
    quantity: str  # already formatted, e.g. "12" or "1.5"
    amount: int


@dataclass(frozen=True)
class HistoryRow:
    action: str  # a Chinese label, e.g. "已提交"
    actor: str
    at: str
    reason: str = ""


@dataclass(frozen=True)
class AdjustmentRow:
    """A line that changes the backstop after the fund's real payment (SPEC §7)."""

    receipt_number: str
    belongs_to: str  # the visit's month, e.g. "2026-09"
    source: str  # a Chinese label, e.g. "医保对账"
    reason: str  # a Chinese label
    fund_computed: int
    fund_paid: int
    amount: int  # + the district owes more, − less
    disallowed: bool = False  # a reviewer's 审核核减, not the fund reconciliation's


@dataclass(frozen=True)
class StatementDocument:
    """A clinic's monthly statement (月结算单)."""

    district_code: str
    district_name: str
    town_name: str
    clinic_code: str
    clinic_name: str
    month: str  # "2026-10"
    status: str  # "open" | "submitted" | "reviewed" | "paid"
    status_label: str  # Chinese, e.g. "已提交"
    generated_at: str
    figures: Figures
    figure_labels: Mapping[str, str]  # figure name -> its printed label
    days: tuple[DayRow, ...] = ()
    items: tuple[ItemRow, ...] = ()
    history: tuple[HistoryRow, ...] = ()
    # The clinic's audit chain head when the document was made ("chain #seq hash"):
    # a signed paper pins the data, and `flask audit verify --pin` checks it later.
    audit_head: str = ""
    adjustments: tuple[AdjustmentRow, ...] = ()
    # The month's most frequent main diagnoses: (code, name, visits).
    diagnoses: tuple[tuple[str, str, int], ...] = ()
    # Who recorded the month's visits: "王建华（D440114000001）", never a login name.
    doctors: tuple[str, ...] = ()

    @property
    def adjustment_total(self) -> int:
        return sum(a.amount for a in self.adjustments)

    @property
    def review_deduction(self) -> int:
        """审核核减: the reviewers' lines (negative)."""
        return sum(a.amount for a in self.adjustments if a.disallowed)

    @property
    def fund_adjustment(self) -> int:
        """医保对账调整: the fund reconciliation's lines."""
        return self.adjustment_total - self.review_deduction

    @property
    def backstop_due(self) -> int:
        return self.figures.fiscal + self.adjustment_total

    @property
    def draft(self) -> bool:
        """An open month can still change: the print carries a 草稿 mark."""
        return self.status == "open"


@dataclass(frozen=True)
class SummaryRow:
    clinic_code: str
    clinic_name: str
    town_name: str
    status: str
    status_label: str
    visits: int
    programme_visits: int
    total: int
    fund: int
    fiscal: int  # the backstop due to the clinic
    paid: int | None = None  # None until finance records the payment
    paid_on: str = ""
    reference: str = ""
    adjustments: int = 0  # the statement's adjustment lines, both kinds
    review_deductions: int = 0  # the part of them reviewers disallowed (审核核减, negative)

    @property
    def fund_adjustments(self) -> int:
        """医保对账调整: the fund reconciliation's part of :attr:`adjustments`."""
        return self.adjustments - self.review_deductions

    @property
    def backstop_due(self) -> int:
        return self.fiscal + self.adjustments


@dataclass(frozen=True)
class SummaryTotals:
    visits: int
    programme_visits: int
    total: int
    fund: int
    fiscal: int
    paid: int
    outstanding: int  # backstop due (adjustments included) not yet paid
    adjustments: int = 0
    review_deductions: int = 0

    @property
    def fund_adjustments(self) -> int:
        return self.adjustments - self.review_deductions


@dataclass(frozen=True)
class DistrictSummaryDocument:
    """The district summary for a month: what the finance bureau pays from."""

    district_code: str
    district_name: str
    month: str
    generated_at: str
    figure_labels: Mapping[str, str]  # figure name -> its printed label
    rows: tuple[SummaryRow, ...]
    totals: SummaryTotals


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    unit: str
    insurance_class: str  # "A" | "B" | "C"
    quantity: str
    unit_price: int
    amount: int
    kind: str = ""  # consultation | drug | service | material
    # Where the national catalogue's fields applied (SPEC §2.1): the fund's
    # ceiling per unit and the part of the amount above it; the item's own
    # self-pay ratio as a percentage ("5%").
    price_ceiling: int | None = None
    over_ceiling: int = 0
    selfpay_percent: str | None = None


@dataclass(frozen=True)
class ReceiptDocument:
    """The patient's receipt for one visit (门诊收费收据)."""

    receipt_number: str
    clinic_code: str
    clinic_name: str
    visited_at: str
    patient_name: str  # masked
    patient_id_number: str  # masked
    programme: bool
    injection: bool
    lines: tuple[ReceiptLine, ...]
    total: int
    fund: int
    fiscal: int
    registration: int
    injection_fee: int
    copay: int
    self_pay: int
    patient: int
    voided: bool = False
    eligibility_notes: tuple[str, ...] = field(default_factory=tuple)
    # The visit's diagnoses, "J06.900 急性上呼吸道感染", the main one first.
    diagnoses: tuple[str, ...] = ()
    # The public receipt check (社会监督): the code printed under the QR code,
    # grouped for reading aloud, and the address the QR code opens.
    check_code: str = ""
    check_url: str = ""
    # Real-time settlement (SPEC §7): "" (none), or the sentence that says the visit
    # is settled with the platform, or pending settlement (医保待结算).
    insurance_note: str = ""
