"""The patient's receipt for one visit (门诊收费收据), A5 portrait.

A5 rather than an 80 mm roll so any village clinic's ordinary printer can
print it.  Patient name and ID number arrive already masked; this module
prints them as given.  A voided receipt carries a 已作废 stamp over every
page so it cannot be passed off as valid.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, Spacer, Table

from app.glossary import zh
from app.money import format_yuan as yuan
from reports.base import PageGeometry, Renderer, text
from reports.data import ReceiptDocument, ReceiptLine
from reports.styles import (
    ACCENT,
    HEADER_FILL,
    MUTED,
    PROGRAMME_GREEN,
    RULE,
    TOTAL_FILL,
    VOID_RED,
)

INSURANCE_CLASS = {"A": "甲类", "B": "乙类", "C": "丙类"}
# The category column reads as on the receipt page: the consultation fee and the
# service items are their own kinds, drugs and materials show their class.
KIND_LABELS = {"consultation": "诊疗费", "service": "服务项目"}


class ReceiptRenderer(Renderer):
    geometry = PageGeometry(A5, left=11 * mm, right=11 * mm, top=12 * mm, bottom=17 * mm)
    cell_size = 8.5

    def __init__(self, doc: ReceiptDocument) -> None:
        super().__init__()
        self.doc = doc

    def title(self) -> str:
        return f"{self.doc.clinic_name} 门诊收费收据"

    def running_header(self) -> tuple[str, str]:
        return self.title(), f"收据号 {self.doc.receipt_number}"

    def footer_note(self) -> str:
        return f"收据号：{self.doc.receipt_number}"

    def stamp_page(self, canvas: Canvas) -> None:
        if not self.doc.voided:
            return
        width, height = self.geometry.pagesize
        canvas.saveState()
        canvas.translate(width / 2, height / 2)
        canvas.rotate(25)
        canvas.setStrokeColor(VOID_RED)
        canvas.setFillColor(VOID_RED)
        canvas.setFillAlpha(0.45)
        canvas.setStrokeAlpha(0.6)
        canvas.setLineWidth(3)
        canvas.roundRect(-55 * mm, -16 * mm, 110 * mm, 32 * mm, 4 * mm, stroke=1, fill=0)
        canvas.setFont(self.font, 56)
        canvas.drawCentredString(0, -19, "已作废")
        canvas.restoreState()

    def story(self) -> list[Flowable]:
        d = self.doc
        s = self.styles
        story: list[Flowable] = [text(self.title(), s["title"])]
        if d.voided:
            story.append(
                Paragraph(
                    f'<font color="{VOID_RED.hexval()}">本收据已作废，不作收费依据</font>',
                    s["subtitle"],
                )
            )
        story += [self.header_block(), Spacer(1, 3 * mm), self.line_table(), Spacer(1, 3 * mm)]
        story += [self.share_table(), Spacer(1, 4 * mm), self.amount_due()]
        if d.insurance_note:
            story.append(text(d.insurance_note, s["body"]))
        if d.eligibility_notes:
            story.append(Paragraph("说明", s["heading"]))
            story += [text(f"· {note}", s["body"]) for note in d.eligibility_notes]
        story += [
            Spacer(1, 5 * mm),
            text("请妥善保管本收据。金额单位：元。", s["small"]),
        ]
        if d.check_code:
            story += [Spacer(1, 3 * mm), self.check_block()]
        return story

    def check_block(self) -> Table:
        """A QR code and the short code: the patient can check what was billed (社会监督)."""
        d, s = self.doc, self.styles
        widget = QrCodeWidget(d.check_url, barLevel="M")
        x0, y0, x1, y1 = widget.getBounds()
        size = 24 * mm
        drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        drawing.add(widget)
        words = [
            text("扫描二维码或打开下列网址，核对本次收费：", s["small"]),
            text(d.check_url, s["small"]),
            text(f"核验码：{d.check_code}", s["body"]),
            text("如被多收费用，可在该页面反映。", s["small"]),
        ]
        return self.table(
            [[drawing, words]],
            [28 * mm, self.geometry.frame_width - 28 * mm],
            [("VALIGN", (0, 0), (-1, -1), "MIDDLE")],
        )

    def badge(self) -> Table:
        d = self.doc
        if d.programme:
            label, fill = zh("programme"), PROGRAMME_GREEN
        else:
            label, fill = zh("non_programme"), MUTED
        cells = [[text(label, self.styles["badge"])]]
        widths = [24 * mm]
        if d.injection:
            cells[0].append(text("含注射", self.styles["badge"]))
            widths.append(18 * mm)
        style: list[tuple[Any, ...]] = [
            ("BACKGROUND", (0, 0), (0, 0), fill),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if d.injection:
            style.append(("BACKGROUND", (1, 0), (1, 0), ACCENT))
        return self.table(cells, widths, style)

    def header_block(self) -> Table:
        d = self.doc
        s = self.styles
        rows = [
            [text("收据号", s["label"]), text(d.receipt_number, s["body"]), self.badge(), ""],
            [
                text("就诊时间", s["label"]),
                text(d.visited_at, s["body"]),
                text("卫生站编码", s["label"]),
                text(d.clinic_code, s["body"]),
            ],
            [
                text("患者", s["label"]),
                text(d.patient_name, s["body"]),
                text("身份证号", s["label"]),
                text(d.patient_id_number, s["body"]),
            ],
        ]
        if d.diagnoses:
            rows.append([text("诊断", s["label"]), text("；".join(d.diagnoses), s["body"]), "", ""])
        return self.table(
            rows,
            [16 * mm, 40 * mm, 19 * mm, 51 * mm],
            [
                ("SPAN", (2, 0), (3, 0)),
                *([("SPAN", (1, 3), (3, 3))] if d.diagnoses else []),
                ("ALIGN", (2, 0), (3, 0), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("LINEABOVE", (0, 0), (-1, 0), 0.8, ACCENT),
                ("LINEBELOW", (0, -1), (-1, -1), 0.8, ACCENT),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ],
        )

    def line_table(self) -> Table:
        d = self.doc
        rows = [
            [
                self.name_cell(line),
                KIND_LABELS.get(line.kind)
                or INSURANCE_CLASS.get(line.insurance_class, line.insurance_class),
                self.cell(f"{line.quantity}{line.unit}"),
                yuan(line.unit_price),
                yuan(line.amount),
            ]
            for line in d.lines
        ]
        # The fees are part of 合计: shown as rows, the column adds up to it.
        for name, fee in ((zh("registration"), d.registration), (zh("injection"), d.injection_fee)):
            if fee:
                rows.append([self.cell(name), "", "", "", yuan(fee)])
        total = [zh("total"), "", "", "", yuan(d.total)]
        return self.data_table(
            ["项目", "类别", "数量", "单价", "金额"],
            rows,
            (47, 16, 19, 22, 22),  # 服务项目 needs four characters
            numeric_from=3,
            total=total,
            total_span=4,
        )

    def name_cell(self, line: ReceiptLine) -> Any:
        """The item's name; under it, smaller, the national limits that applied to it."""
        notes = national_notes(line)
        if not notes:
            return self.cell(line.name)
        lines = [escape(line.name), *(f'<font size="7">{escape(n)}</font>' for n in notes)]
        return Paragraph("<br/>".join(lines), self.styles["cell"])

    def share_table(self) -> Table:
        d = self.doc
        rows = [
            [zh("fund"), yuan(d.fund), zh("registration"), yuan(d.registration)],
            [zh("fiscal"), yuan(d.fiscal), zh("injection"), yuan(d.injection_fee)],
            [zh("patient"), yuan(d.patient), zh("copay"), yuan(d.copay)],
            [zh("total"), yuan(d.total), zh("self_pay"), yuan(d.self_pay)],
        ]
        return self.table(
            rows,
            [26 * mm, 32 * mm, 34 * mm, 34 * mm],
            [
                ("FONTNAME", (0, 0), (-1, -1), self.font),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("ALIGN", (3, 0), (3, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (0, -1), HEADER_FILL),
                ("BACKGROUND", (2, 0), (2, -1), HEADER_FILL),
                ("BACKGROUND", (0, 2), (1, 2), TOTAL_FILL),
                ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ],
        )

    def amount_due(self) -> Table:
        d = self.doc
        # "只需" is the programme's promise; a non-programme visit pays in full.
        lead = "本次您只需支付" if d.programme else "本次您需支付"
        line = text(f"{lead} {yuan(d.patient)} 元", self.styles["amount_due"])
        return self.table(
            [[line]],
            [self.geometry.frame_width],
            [
                ("BOX", (0, 0), (-1, -1), 1.2, PROGRAMME_GREEN if d.programme else MUTED),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ],
        )


def national_notes(line: ReceiptLine) -> list[str]:
    """The national catalogue's limits that applied to a line, as the receipt prints them."""
    notes = []
    if line.price_ceiling is not None:
        note = f"医保限价 {yuan(line.price_ceiling)}/{line.unit}"
        if line.over_ceiling:
            note += f"，超限 {yuan(line.over_ceiling)}"
        notes.append(note)
    if line.selfpay_percent is not None:
        notes.append(f"先行自付 {line.selfpay_percent}")
    return notes


def render_receipt(doc: ReceiptDocument) -> bytes:
    """The patient's receipt for one visit as PDF bytes."""
    return ReceiptRenderer(doc).render()


__all__ = ["render_receipt"]
