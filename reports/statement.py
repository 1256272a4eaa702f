"""The clinic's monthly statement (月结算单), A4 portrait.

Guarantee: every 合计 row printed equals the sum of the rows above it, and
the per-day rows add up to the statement's figures field by field (SPEC §5:
every figure equals the sum over its visits, to the fen).  A statement whose
days do not add up is refused with :class:`StatementMismatch` rather than
printed for the finance bureau to pay from.
"""

from __future__ import annotations

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer, Table

from app.glossary import zh
from app.ledger import COUNT_FIELDS
from app.money import format_yuan as yuan
from reports.base import PageGeometry, Renderer, text
from reports.data import Figures, StatementDocument
from reports.styles import ACCENT, HEADER_FILL, RULE, TOTAL_FILL, WATERMARK_GREY

NUMERALS = "一二三四五六七八九十"
# The summary's two columns (the backstop heads the right one) and the day table's.
LEFT_COLUMN = ("visits", "programme_visits", "injections", "total", "in_scope", "fund")
RIGHT_COLUMN = ("fiscal", "registration", "injection", "copay", "self_pay", "patient")
DAY_COLUMNS = ("visits", "programme_visits", "total", "fund", "fiscal", "patient")


def _percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` in per cent with one decimal, half up, in integers."""
    if not whole:
        return ""
    tenths = (part * 2000 + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"


class StatementMismatch(ValueError):
    """The per-day rows do not add up to the statement's figures."""


def sum_figures(rows: tuple[Figures, ...]) -> Figures:
    return sum(rows, Figures())


def draw_watermark(
    canvas: Canvas, pagesize: tuple[float, float], font: str, label: str, size: float = 150
) -> None:
    """A large diagonal mark drawn *over* the content, translucent.

    Over, not under: table header fills and row stripes are opaque and would
    hide a mark drawn underneath exactly where the figures are.
    """
    width, height = pagesize
    canvas.saveState()
    canvas.setFillColor(WATERMARK_GREY)
    canvas.setFillAlpha(0.28)
    canvas.setFont(font, size)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(40)
    canvas.drawCentredString(0, -size / 3, label)
    canvas.restoreState()


class StatementRenderer(Renderer):
    geometry = PageGeometry(A4, left=15 * mm, right=15 * mm, top=15 * mm, bottom=20 * mm)

    def __init__(self, doc: StatementDocument) -> None:
        super().__init__()
        self.doc = doc
        if doc.days:
            added = sum_figures(tuple(day.figures for day in doc.days))
            if added != doc.figures:
                raise StatementMismatch(
                    f"{doc.clinic_code} {doc.month}: days add up to {added}, "
                    f"statement says {doc.figures}"
                )

    def title(self) -> str:
        return f"{self.doc.district_name}农村“一元钱看病”村卫生站月度结算单"

    def running_header(self) -> tuple[str, str]:
        d = self.doc
        return self.title(), f"{d.clinic_name}（{d.clinic_code}） {d.month}"

    def footer_note(self) -> str:
        return f"生成时间：{self.doc.generated_at}    金额单位：元"

    def stamp_page(self, canvas: Canvas) -> None:
        if self.doc.draft:
            draw_watermark(canvas, self.geometry.pagesize, self.font, "草稿")

    def story(self) -> list[Flowable]:
        d = self.doc
        s = self.styles
        story: list[Flowable] = [text(self.title(), s["title"])]
        if d.draft:
            story.append(
                text("草稿 —— 本月尚未提交，数字仍可能变动，不能作为拨付依据", s["subtitle"])
            )
        # A section heading starts a new page rather than end one without its table.
        keep = CondPageBreak(35 * mm)
        sections: list[tuple[str, list[Flowable]]] = [("结算汇总", [self.summary_table()])]
        if d.adjustments:
            sections.append(
                (f"{zh('fund_adjustment')}与{zh('review_deduction')}", self.adjustment_block())
            )
        sections += [("逐日明细", [self.day_table()]), ("诊疗项目明细", [self.item_table()])]
        if d.diagnoses:
            sections.append(("主要诊断", [self.diagnosis_table()]))
        if d.history:
            sections.append(("状态记录", [self.history_table()]))
        story.append(self.header_block())
        for number, (title, flowables) in enumerate(sections):
            if number:
                story.append(keep)
            story += [Paragraph(f"{NUMERALS[number]}、{title}", s["heading"]), *flowables]
        if d.audit_head:
            story.append(text(f"审计链：{d.audit_head}", s["small"]))
        story.append(
            self.signature_block(("制表人", "审核人", "财政局审核"), self.geometry.frame_width)
        )
        return story

    def adjustment_block(self) -> list[Flowable]:
        """Each adjustment line, their total, and the backstop due after them."""
        d = self.doc
        rows = [
            [
                self.cell(a.receipt_number),
                a.belongs_to,
                self.cell(a.source),
                self.cell(a.reason),
                yuan(a.fund_computed),
                yuan(a.fund_paid),
                yuan(a.amount),
            ]
            for a in d.adjustments
        ]
        table = self.data_table(
            ["收据号", "所属月份", "来源", "原因", "本系统计算医保", "医保实际支付", "调整金额"],
            rows,
            (38, 18, 20, 40, 22, 22, 20),
            numeric_from=4,
            total=["调整合计", "", "", "", "", "", yuan(d.adjustment_total)],
            total_span=6,
        )
        due = (
            f"{zh('backstop_due')}：{zh('fiscal')} {yuan(d.figures.fiscal)} 元 "
            f"+ {zh('fund_adjustment')} {yuan(d.fund_adjustment)} 元 "
            f"+ {zh('review_deduction')} {yuan(d.review_deduction)} 元 "
            f"= {yuan(d.backstop_due)} 元"
        )
        return [table, Spacer(1, 2 * mm), Paragraph(due, self.styles["body"])]

    def header_block(self) -> Table:
        d = self.doc
        s = self.styles
        pairs = [
            ("区", f"{d.district_name}（{d.district_code}）", "镇（街）", d.town_name),
            ("卫生站", d.clinic_name, "卫生站编码", d.clinic_code),
            ("结算月份", d.month, "状态", d.status_label),
            ("生成时间", d.generated_at, "医师", "、".join(d.doctors)),
        ]
        rows = [
            [text(a, s["label"]), text(b, s["body"]), text(c, s["label"]), text(e, s["body"])]
            for a, b, c, e in pairs
        ]
        return self.table(
            rows,
            [22 * mm, 73 * mm, 24 * mm, 61 * mm],
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("LINEABOVE", (0, 0), (-1, 0), 0.8, ACCENT),
                ("LINEBELOW", (0, -1), (-1, -1), 0.8, ACCENT),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ],
        )

    def summary_table(self) -> Table:
        left = [self.figure_cell(n) for n in LEFT_COLUMN]
        right = [self.figure_cell(n) for n in RIGHT_COLUMN]
        rows = [[a, b, c, e] for (a, b), (c, e) in zip(left, right, strict=True)]
        return self.table(
            rows,
            [40 * mm, 45 * mm, 50 * mm, 45 * mm],
            [
                ("FONTNAME", (0, 0), (-1, -1), self.font),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("ALIGN", (3, 0), (3, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (0, -1), HEADER_FILL),
                ("BACKGROUND", (2, 0), (2, -1), HEADER_FILL),
                # The backstop is what the district pays: make it stand out.
                ("BACKGROUND", (2, 0), (3, 0), TOTAL_FILL),
                ("FONTSIZE", (3, 0), (3, 0), 11),
                ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                ("BOX", (0, 0), (-1, -1), 0.8, "black"),
                ("TOPPADDING", (0, 0), (-1, -1), 3.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ],
        )

    def figure_cell(self, name: str) -> tuple[str, str]:
        """A figure's label (money: with its unit) and its value."""
        value = getattr(self.doc.figures, name)
        label = self.doc.figure_labels[name]
        return (label, str(value)) if name in COUNT_FIELDS else (f"{label}（元）", yuan(value))

    def day_table(self) -> Flowable:
        days = self.doc.days
        if not days:
            return text("本月无就诊记录。", self.styles["body"])
        labels = self.doc.figure_labels
        header = ["日期", *(labels[n] for n in DAY_COLUMNS)]

        def line(label: str, f: Figures) -> list[str]:
            return [
                label,
                str(f.visits),
                str(f.programme_visits),
                yuan(f.total),
                yuan(f.fund),
                yuan(f.fiscal),
                yuan(f.patient),
            ]

        rows = [line(day.date, day.figures) for day in days]
        total = line("合计", sum_figures(tuple(day.figures for day in days)))
        return self.data_table(
            header, rows, (28, 20, 22, 28, 27, 28, 27), numeric_from=1, total=total
        )

    def diagnosis_table(self) -> Flowable:
        """The month's most frequent main diagnoses and their share of its visits."""
        d = self.doc
        visits = d.figures.visits
        widths = (32, 96, 26, 26)
        code, name = (w * mm for w in widths[:2])
        rows = [
            [
                self.cell(c, code),
                self.cell(n, name),
                str(count),
                _percent(count, visits),
            ]
            for c, n, count in d.diagnoses
        ]
        return self.data_table(
            ["诊断编码", "诊断名称", "人次", "占比"], rows, widths, numeric_from=2
        )

    def item_table(self) -> Flowable:
        items = self.doc.items
        if not items:
            return text("本月无诊疗项目。", self.styles["body"])
        widths = (32, 78, 18, 22, 30)
        code, name, unit = (w * mm for w in widths[:3])
        rows = [
            [
                self.cell(i.code, code),
                self.cell(i.name, name),
                self.cell(i.unit, unit),
                i.quantity,
                yuan(i.amount),
            ]
            for i in items
        ]
        total = ["合计", "", "", "", yuan(sum(i.amount for i in items))]
        return self.data_table(
            ["编码", "名称", "单位", "数量", "金额（元）"],
            rows,
            widths,
            numeric_from=3,
            total=total,
            total_span=4,
        )

    def history_table(self) -> Flowable:
        widths = (22, 40, 34, 84)
        action, actor, _, reason = (w * mm for w in widths)
        rows = [
            [
                self.cell(h.action, action),
                self.cell(h.actor, actor),
                h.at,
                self.cell(h.reason, reason),
            ]
            for h in self.doc.history
        ]
        return self.data_table(["操作", "操作人", "时间", "原因"], rows, widths, None)


def render_statement(doc: StatementDocument) -> bytes:
    """The monthly statement of one clinic as PDF bytes."""
    return StatementRenderer(doc).render()


def write_statement(doc: StatementDocument, path: str) -> int:
    """Render ``doc`` into the file ``path``; the bytes written.

    A top-level function of plain data, so a process pool can run it: the
    PDF is written by the worker and never travels back to the parent.
    """
    data = render_statement(doc)
    with open(path, "wb") as out:
        out.write(data)
    return len(data)


__all__ = ["StatementMismatch", "render_statement", "write_statement"]
