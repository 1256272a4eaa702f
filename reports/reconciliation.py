"""The fund reconciliation of a district-month (医保基金结算对账表), A4 landscape.

What finance signs before paying a backstop that follows the fund's real
payments: counts and sums per outcome, per clinic the backstop as recorded
and as reconciled, and the biggest differences first.  Plain data in
(already-translated labels, int fen), PDF bytes out.  Guarantee: the printed
totals equal the sums of their rows (a document where they do not is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from app.money import format_yuan
from reports.base import PageGeometry, Renderer, text, text_fields


@dataclass(frozen=True)
class OutcomeRow:
    outcome: str  # translated
    reason: str  # translated
    count: int
    fund_computed: int
    fund_paid: int


@dataclass(frozen=True)
class ClinicRow:
    code: str
    name: str
    differing: int
    fiscal: int  # backstop as recorded
    adjusted: int  # adjustments on this month's statement
    reconciled: int  # fiscal + adjusted


@dataclass(frozen=True)
class DifferenceRow:
    receipt_number: str
    clinic: str
    outcome: str
    reason: str
    fund_computed: int
    fund_paid: int


@dataclass(frozen=True)
class ReconciliationDocument:
    district_code: str
    district_name: str
    month: str
    generated_at: str
    files: list[str]
    outcomes: list[OutcomeRow] = field(default_factory=list)
    clinics: list[ClinicRow] = field(default_factory=list)
    biggest: list[DifferenceRow] = field(default_factory=list)


class ReconciliationMismatch(ValueError):
    """A clinic's reconciled backstop is not its recorded backstop plus its adjustments."""


class ReconciliationRenderer(Renderer):
    geometry = PageGeometry(landscape(A4), left=12 * mm, right=12 * mm, top=12 * mm, bottom=18 * mm)

    def __init__(self, doc: ReconciliationDocument) -> None:
        super().__init__()
        for row in doc.clinics:
            if row.reconciled != row.fiscal + row.adjusted:
                raise ReconciliationMismatch(row.code)
        self.doc = doc

    def title(self) -> str:
        return f"{self.doc.district_name}医保基金结算对账表"

    def running_header(self) -> tuple[str, str]:
        return self.title(), f"结算月份：{self.doc.month}"

    def footer_note(self) -> str:
        return f"生成时间：{self.doc.generated_at}    金额单位：元"

    def story(self) -> list[Flowable]:
        d, s, y = self.doc, self.styles, format_yuan
        story: list[Flowable] = [
            text(self.title(), s["title"]),
            text_fields(
                (
                    f"区划代码：{d.district_code}",
                    f"结算月份：{d.month}",
                    f"生成时间：{d.generated_at}",
                ),
                s["subtitle"],
            ),
            text("医保结算明细文件：" + ("，".join(d.files) or "（无）"), s["small"]),
            Spacer(1, 3 * mm),
            text("一、对账结果", s["heading"]),
            self.data_table(
                ["结果", "原因", "笔数", "本系统计算医保支付", "医保实际支付", "差额"],
                [
                    [
                        self.cell(o.outcome),
                        self.cell(o.reason),
                        str(o.count),
                        y(o.fund_computed),
                        y(o.fund_paid),
                        y(o.fund_computed - o.fund_paid),
                    ]
                    for o in d.outcomes
                ],
                [70, 75, 20, 40, 36, 32],
                numeric_from=2,
                total=[
                    "合计",
                    "",
                    str(sum(o.count for o in d.outcomes)),
                    y(sum(o.fund_computed for o in d.outcomes)),
                    y(sum(o.fund_paid for o in d.outcomes)),
                    y(sum(o.fund_computed - o.fund_paid for o in d.outcomes)),
                ],
                total_span=2,
            ),
            Spacer(1, 4 * mm),
            text("二、各卫生站区财政兜底（对账前后）", s["heading"]),
            self.data_table(
                ["卫生站编码", "卫生站", "不一致笔数", "对账前兜底", "对账调整", "对账后兜底"],
                [
                    [
                        c.code,
                        self.cell(c.name),
                        str(c.differing),
                        y(c.fiscal),
                        y(c.adjusted),
                        y(c.reconciled),
                    ]
                    for c in d.clinics
                ],
                [30, 80, 25, 45, 40, 45],
                numeric_from=2,
                total=[
                    "合计",
                    "",
                    str(sum(c.differing for c in d.clinics)),
                    y(sum(c.fiscal for c in d.clinics)),
                    y(sum(c.adjusted for c in d.clinics)),
                    y(sum(c.reconciled for c in d.clinics)),
                ],
                total_span=2,
            ),
        ]
        if d.biggest:
            story += [
                Spacer(1, 4 * mm),
                text("三、差额最大的记录", s["heading"]),
                self.data_table(
                    ["收据号", "卫生站", "结果", "原因", "本系统计算", "医保实际支付", "差额"],
                    [
                        [
                            b.receipt_number,
                            b.clinic,
                            self.cell(b.outcome),
                            self.cell(b.reason),
                            y(b.fund_computed),
                            y(b.fund_paid),
                            y(b.fund_computed - b.fund_paid),
                        ]
                        for b in d.biggest
                    ],
                    [50, 25, 50, 60, 30, 30, 28],
                    numeric_from=4,
                ),
            ]
        story.append(
            self.signature_block(("制表人", "审核人", "财政局"), self.geometry.frame_width * 0.8)
        )
        return story


def render_reconciliation(doc: ReconciliationDocument) -> bytes:
    return ReconciliationRenderer(doc).render()
