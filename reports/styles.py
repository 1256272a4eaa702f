"""The one stylesheet of the printed reports.

Sizes are chosen for print: body text 9.5 pt, table cells 8.5–9 pt, nothing
below 7.5 pt.  Every style uses the CJK font and CJK line breaking, so Chinese
names wrap between characters instead of overflowing a cell.
"""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle, StyleSheet1

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#8c8c8c")
HEADER_FILL = colors.HexColor("#e4e9f0")
TOTAL_FILL = colors.HexColor("#f3efd9")
STRIPE_FILL = colors.HexColor("#f7f7f7")
ACCENT = colors.HexColor("#1f4e79")
PROGRAMME_GREEN = colors.HexColor("#2e7d32")
VOID_RED = colors.HexColor("#c62828")
WATERMARK_GREY = colors.HexColor("#8c8c8c")
GRID_GREY = colors.HexColor("#d0d0d0")


def stylesheet(font: str, cell_size: float = 8.5) -> StyleSheet1:
    """All paragraph styles of a report set in ``font``.

    ``cell_size`` is the table text size: the landscape summary and the A5
    receipt use slightly different sizes from the statement.
    """
    sheet = StyleSheet1()
    base = ParagraphStyle(
        "body",
        fontName=font,
        fontSize=9.5,
        leading=13,
        textColor=INK,
        wordWrap="CJK",
    )
    sheet.add(base)
    sheet.add(
        ParagraphStyle(
            "title",
            parent=base,
            fontSize=16,
            leading=22,
            alignment=TA_CENTER,
            spaceAfter=4,
            textColor=ACCENT,
        )
    )
    sheet.add(
        ParagraphStyle(
            "subtitle", parent=base, fontSize=10, leading=14, alignment=TA_CENTER, spaceAfter=6
        )
    )
    sheet.add(
        ParagraphStyle(
            "heading",
            parent=base,
            fontSize=11.5,
            leading=16,
            spaceBefore=10,
            spaceAfter=4,
            textColor=ACCENT,
        )
    )
    sheet.add(ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=MUTED))
    cell_leading = cell_size + 3
    sheet.add(
        ParagraphStyle(
            "cell", parent=base, fontSize=cell_size, leading=cell_leading, alignment=TA_LEFT
        )
    )
    sheet.add(
        ParagraphStyle(
            "cell_head",
            parent=base,
            fontSize=cell_size,
            leading=cell_leading,
            alignment=TA_CENTER,
        )
    )
    sheet.add(
        ParagraphStyle(
            "cell_right", parent=base, fontSize=cell_size, leading=cell_leading, alignment=TA_RIGHT
        )
    )
    sheet.add(
        ParagraphStyle(
            "label", parent=base, fontSize=9, leading=12, textColor=MUTED, alignment=TA_LEFT
        )
    )
    sheet.add(
        ParagraphStyle(
            "amount_due",
            parent=base,
            fontSize=17,
            leading=24,
            alignment=TA_CENTER,
            textColor=INK,
        )
    )
    sheet.add(
        ParagraphStyle(
            "badge",
            parent=base,
            fontSize=10,
            leading=13,
            alignment=TA_CENTER,
            textColor=colors.white,
        )
    )
    return sheet
