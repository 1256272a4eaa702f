"""The district summary for a month (区财政兜底资金月度汇总表), A4 landscape.

This is what the finance bureau pays from.  Guarantee: the printed 合计 row
(from ``doc.totals``) equals the sum of the clinic rows for every column that
is a plain sum — visits, programme visits, total, fund, backstop, paid; a
document where it does not is refused with :class:`SummaryMismatch`.

The chart never sees a float of money: bars are drawn from int fen on an axis
whose ticks are whole-yuan multiples, labelled with integer division.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, TableStyle

from app.glossary import zh
from app.money import format_yuan as yuan
from reports.base import PageGeometry, Renderer, text, text_fields
from reports.data import DistrictSummaryDocument, SummaryRow
from reports.styles import ACCENT, GRID_GREY, MUTED

BARS_PER_CHART = 24  # one chart per landscape page at a legible bar pitch
BAR_PITCH = 5.5 * mm
MAX_LABEL_WIDTH = 60 * mm
LABEL_SIZE = 8


class SummaryMismatch(ValueError):
    """``doc.totals`` is not the sum of the clinic rows."""


def axis_step(largest_fen: int, ticks: int = 5) -> int:
    """A 1/2/5 × 10ⁿ yuan tick step, in fen, giving about ``ticks`` ticks."""
    per_tick_yuan = max(1, -(-largest_fen // (ticks * 100)))  # ceiling division
    magnitude = 1
    while magnitude * 10 <= per_tick_yuan:
        magnitude *= 10
    for multiple in (1, 2, 5):
        if multiple * magnitude >= per_tick_yuan:
            return multiple * magnitude * 100
    return 10 * magnitude * 100


def _axis_label(value: float) -> str:
    # ReportLab computes tick positions itself and may hand back a float; the
    # ticks are whole-yuan multiples of fen, so rounding to int fen is exact.
    return str(round(value) // 100)


def check_totals(doc: DistrictSummaryDocument) -> None:
    t = doc.totals
    added = {
        "visits": sum(r.visits for r in doc.rows),
        "programme_visits": sum(r.programme_visits for r in doc.rows),
        "total": sum(r.total for r in doc.rows),
        "fund": sum(r.fund for r in doc.rows),
        "fiscal": sum(r.fiscal for r in doc.rows),
        "paid": sum(r.paid for r in doc.rows if r.paid is not None),
        "adjustments": sum(r.adjustments for r in doc.rows),
        "review_deductions": sum(r.review_deductions for r in doc.rows),
    }
    wrong = {name: (value, getattr(t, name)) for name, value in added.items()}
    wrong = {name: pair for name, pair in wrong.items() if pair[0] != pair[1]}
    if wrong:
        raise SummaryMismatch(f"{doc.district_code} {doc.month}: rows != totals {wrong}")


class SummaryRenderer(Renderer):
    geometry = PageGeometry(landscape(A4), left=12 * mm, right=12 * mm, top=12 * mm, bottom=18 * mm)

    def __init__(self, doc: DistrictSummaryDocument) -> None:
        super().__init__()
        check_totals(doc)
        self.doc = doc

    def title(self) -> str:
        return f"{self.doc.district_name}农村“一元钱看病”区财政兜底资金月度汇总表"

    def running_header(self) -> tuple[str, str]:
        return self.title(), f"结算月份：{self.doc.month}"

    def footer_note(self) -> str:
        return f"生成时间：{self.doc.generated_at}    金额单位：元"

    def story(self) -> list[Flowable]:
        d = self.doc
        s = self.styles
        statuses = Counter(r.status_label for r in d.rows)
        by_status = "，".join(f"{label} {n} 个" for label, n in statuses.items())
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
            text(
                f"卫生站共 {len(d.rows)} 个" + (f"（{by_status}）" if by_status else ""), s["small"]
            ),
            Spacer(1, 2 * mm),
            self.clinic_table(),
        ]
        if any(r.adjustments for r in d.rows):
            story += self.adjustment_section()
        story += self.charts()
        story.append(
            self.signature_block(("制表人", "审核人", "财政局"), self.geometry.frame_width * 0.8)
        )
        return story

    def clinic_table(self) -> Flowable:
        t = self.doc.totals
        rows: list[list[str | Flowable]] = [
            [
                self.cell(r.clinic_code),
                self.cell(r.clinic_name),
                self.cell(r.town_name),
                self.cell(r.status_label),
                str(r.visits),
                str(r.programme_visits),
                yuan(r.total),
                yuan(r.fund),
                yuan(r.fiscal),
                "—" if r.paid is None else yuan(r.paid),
                self.cell(r.paid_on),
                self.cell(r.reference),
            ]
            for r in self.doc.rows
        ]
        total: list[str | Flowable] = [
            "合计",
            "",
            "",
            "",
            str(t.visits),
            str(t.programme_visits),
            yuan(t.total),
            yuan(t.fund),
            yuan(t.fiscal),
            yuan(t.paid),
            f"未拨付 {yuan(t.outstanding)}",
            "",
        ]
        labels = self.doc.figure_labels
        header = [
            "卫生站编码",
            "名称",
            "所属镇",
            "状态",
            *(labels[n] for n in ("visits", "programme_visits", "total", "fund", "fiscal")),
            "已拨付",
            "拨付日期",
            "凭证号",
        ]
        table = self.data_table(
            header,
            rows,
            (22, 35, 18, 16, 16, 22, 24, 22, 25, 22, 21, 30),
            numeric_from=4,
            total=total,
            total_span=4,
        )
        table.setStyle(
            TableStyle(
                [
                    ("ALIGN", (10, 1), (-1, -1), "LEFT"),
                    ("SPAN", (10, -1), (11, -1)),
                    ("ALIGN", (10, -1), (11, -1), "CENTER"),
                ]
            )
        )
        return table

    def adjustment_section(self) -> list[Flowable]:
        """Clinics whose backstop changed after recording: the fund reconciliation's
        adjustments and the reviewers' disallowances, two named columns; each row
        and the total line add up to the backstop due."""
        d, t = self.doc, self.doc.totals
        rows: list[list[str | Flowable]] = [
            [
                self.cell(r.clinic_code),
                self.cell(r.clinic_name),
                yuan(r.fiscal),
                yuan(r.fund_adjustments),
                yuan(r.review_deductions),
                yuan(r.backstop_due),
            ]
            for r in d.rows
            if r.adjustments or r.review_deductions
        ]
        due = t.fiscal + t.adjustments
        return [
            Spacer(1, 4 * mm),
            text(f"{zh('fund_adjustment')}与{zh('review_deduction')}", self.styles["heading"]),
            self.data_table(
                [
                    "卫生站编码",
                    "名称",
                    zh("fiscal"),
                    zh("fund_adjustment"),
                    zh("review_deduction"),
                    zh("backstop_due"),
                ],
                rows,
                (30, 60, 32, 32, 32, 32),
                numeric_from=2,
                total=[
                    "合计（全部卫生站）",
                    "",
                    yuan(t.fiscal),
                    yuan(t.fund_adjustments),
                    yuan(t.review_deductions),
                    yuan(due),
                ],
                total_span=2,
            ),
        ]

    def charts(self) -> list[Flowable]:
        rows = self.doc.rows
        if not rows:
            return []
        names = [self._category(r) for r in rows]
        label_width = max(stringWidth(n, self.font, LABEL_SIZE) for n in names) + 6 * mm
        values = [r.fiscal for r in rows]
        step = axis_step(max(max(values), 0) - min(min(values), 0))
        high = max(step, -(-max(values) // step) * step)
        low = min(0, (min(values) // step) * step)
        flowables: list[Flowable] = []
        for start in range(0, len(rows), BARS_PER_CHART):
            chunk = rows[start : start + BARS_PER_CHART]
            drawing = self.chart(chunk, low, high, step, label_width)
            if start == 0:
                heading = Paragraph(
                    f"{self.doc.figure_labels['fiscal']}（按卫生站，元）", self.styles["heading"]
                )
                flowables.append(KeepTogether([heading, drawing]))
            else:
                flowables.append(drawing)
        return flowables

    def chart(
        self, rows: Sequence[SummaryRow], low: int, high: int, step: int, label_width: float
    ) -> Drawing:
        width = self.geometry.frame_width
        axis_room = 12 * mm
        height = len(rows) * BAR_PITCH + axis_room + 4 * mm
        drawing = Drawing(width, height)
        # The renderer's initial state would otherwise select Helvetica, which
        # then sits unembedded in the PDF.
        drawing.initialFontName = self.font
        chart = HorizontalBarChart()
        chart.x = label_width
        chart.y = axis_room
        chart.width = width - label_width - 28 * mm  # room for bar labels
        chart.height = len(rows) * BAR_PITCH
        chart.data = [[r.fiscal for r in rows]]
        chart.barSpacing = 0
        chart.groupSpacing = 1.6 * mm
        chart.bars[0].fillColor = ACCENT
        chart.bars[0].strokeColor = None
        chart.categoryAxis.categoryNames = [self._category(r) for r in rows]
        chart.categoryAxis.joinAxisMode = "left"  # labels stay left of a negative bar
        chart.categoryAxis.reverseDirection = 1  # first clinic at the top, as in the table
        chart.categoryAxis.labels.fontName = self.font
        chart.categoryAxis.labels.fontSize = LABEL_SIZE
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
        chart.valueAxis.valueMin = low
        chart.valueAxis.valueMax = high
        chart.valueAxis.valueStep = step
        chart.valueAxis.labelTextFormat = _axis_label
        chart.valueAxis.labels.fontName = self.font
        chart.valueAxis.labels.fontSize = 8
        chart.valueAxis.visibleGrid = 1
        chart.valueAxis.gridStrokeColor = GRID_GREY
        chart.valueAxis.gridStrokeWidth = 0.4
        chart.barLabelFormat = yuan
        chart.barLabels.fontName = self.font
        chart.barLabels.fontSize = 7.5
        chart.barLabels.boxAnchor = "w"
        chart.barLabels.dx = 3
        drawing.add(chart)
        drawing.add(
            String(
                chart.x + chart.width,
                2,
                "元",
                fontName=self.font,
                fontSize=8,
                fillColor=MUTED,
                textAnchor="end",
            )
        )
        return drawing

    def _category(self, row: SummaryRow) -> str:
        label = f"{row.clinic_name}"
        limit = MAX_LABEL_WIDTH - 6 * mm
        if stringWidth(label, self.font, LABEL_SIZE) <= limit:
            return label
        while label and stringWidth(label + "…", self.font, LABEL_SIZE) > limit:
            label = label[:-1]
        return label + "…"


def render_district_summary(doc: DistrictSummaryDocument) -> bytes:
    """The district's monthly backstop summary as PDF bytes."""
    return SummaryRenderer(doc).render()


__all__ = ["SummaryMismatch", "render_district_summary"]
