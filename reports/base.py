"""What every report shares: page geometry, page templates, header and footer.

A renderer is a :class:`Renderer` subclass holding its page geometry; its
:meth:`Renderer.render` builds the flowables and returns the PDF as ``bytes``.
The first page carries the title in the story; later pages get a running
header naming the document, so a loose sheet can be put back in order.  The
footer says "第 x 页 共 y 页": the total is only known after layout, so
:class:`NumberedCanvas` keeps every page and draws the footers on ``save``.

Guarantees: PDFs are reproducible (``invariant``: no creation date from the
clock); user text reaches a Paragraph only through :func:`text`, which
escapes it, so a name containing ``<&>`` prints as written.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypeAlias
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle, StyleSheet1
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from reports.fonts import cjk_font_name
from reports.styles import HEADER_FILL, MUTED, RULE, STRIPE_FILL, TOTAL_FILL, stylesheet

Cell: TypeAlias = str | Flowable


@dataclass(frozen=True)
class PageGeometry:
    pagesize: tuple[float, float]
    left: float
    right: float
    top: float
    bottom: float
    running_header: float = 10 * mm  # room taken by the header on later pages

    @property
    def width(self) -> float:
        return self.pagesize[0]

    @property
    def height(self) -> float:
        return self.pagesize[1]

    @property
    def frame_width(self) -> float:
        return self.width - self.left - self.right


def text(value: str, style: ParagraphStyle) -> Paragraph:
    """A Paragraph of user text: always escaped, never parsed as markup."""
    return Paragraph(escape(value), style)


def text_fields(values: Sequence[str], style: ParagraphStyle, gap: int = 4) -> Paragraph:
    """Several escaped user texts on one line, ``gap`` spaces apart.

    Paragraph collapses runs of spaces, so the gap is made of &nbsp;.
    """
    return Paragraph(("&nbsp;" * gap).join(escape(v) for v in values), style)


class NumberedCanvas(Canvas):
    """A canvas that defers each page so the footer can say "共 y 页"."""

    def __init__(
        self,
        *args: Any,
        draw_footer: Callable[[Canvas, int, int], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._draw_footer = draw_footer
        self._deferred_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._deferred_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._deferred_pages)
        for number, state in enumerate(self._deferred_pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(self, number, total)
            super().showPage()
        super().save()


class Renderer:
    """Base of the three renderers: subclasses set geometry and build a story."""

    geometry: ClassVar[PageGeometry]
    cell_size: ClassVar[float] = 8.5
    cell_padding: ClassVar[float] = 3  # LEFTPADDING and RIGHTPADDING of data_table

    def __init__(self) -> None:
        self.font = cjk_font_name()
        self.styles: StyleSheet1 = stylesheet(self.font, self.cell_size)

    # -- what subclasses provide ------------------------------------------

    def title(self) -> str:
        raise NotImplementedError

    def running_header(self) -> tuple[str, str]:
        """Left and right text of the header on later pages."""
        return self.title(), ""

    def footer_note(self) -> str:
        """Left text of the footer (e.g. the generation time)."""
        return ""

    def story(self) -> list[Flowable]:
        raise NotImplementedError

    def stamp_page(self, canvas: Canvas) -> None:
        """Drawn over the page content (void stamps)."""

    # -- rendering --------------------------------------------------------

    def render(self) -> bytes:
        g = self.geometry
        buffer = io.BytesIO()
        doc = BaseDocTemplate(
            buffer,
            pagesize=g.pagesize,
            leftMargin=g.left,
            rightMargin=g.right,
            topMargin=g.top,
            bottomMargin=g.bottom,
            title=self.title(),
            author="",
            subject=self.title(),
            creator="yiyuan reports",
            invariant=1,
            initialFontName=self.font,
        )
        frame_height = g.height - g.top - g.bottom
        first = Frame(g.left, g.bottom, g.frame_width, frame_height, id="first")
        later = Frame(g.left, g.bottom, g.frame_width, frame_height - g.running_header, id="later")
        doc.addPageTemplates(
            [
                PageTemplate(
                    id="first",
                    frames=[first],
                    onPage=self._on_first_page,
                    onPageEnd=self._on_page_end,
                    autoNextPageTemplate="later",
                ),
                PageTemplate(
                    id="later",
                    frames=[later],
                    onPage=self._on_later_page,
                    onPageEnd=self._on_page_end,
                ),
            ]
        )
        doc.build(self.story(), canvasmaker=partial(NumberedCanvas, draw_footer=self._footer))
        return buffer.getvalue()

    def _on_first_page(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        pass  # the title is in the story

    def _on_page_end(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        self.stamp_page(canvas)

    def _on_later_page(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        g = self.geometry
        left, right = self.running_header()
        size = 8.5
        room = g.frame_width - stringWidth(right, self.font, size) - 10 * mm
        if stringWidth(left, self.font, size) > room:
            left = ""  # a long clinic name wins: it identifies the sheet
        y = g.height - g.top - 5 * mm
        canvas.saveState()
        canvas.setFont(self.font, size)
        canvas.setFillColor(MUTED)
        canvas.drawString(g.left, y, left)
        canvas.drawRightString(g.width - g.right, y, right)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(g.left, y - 2 * mm, g.width - g.right, y - 2 * mm)
        canvas.restoreState()

    def _footer(self, canvas: Canvas, page: int, pages: int) -> None:
        g = self.geometry
        y = g.bottom - 8 * mm
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(g.left, y + 4 * mm, g.width - g.right, y + 4 * mm)
        canvas.setFont(self.font, 8.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(g.left, y, self.footer_note())
        canvas.drawRightString(g.width - g.right, y, f"第 {page} 页 共 {pages} 页")
        canvas.restoreState()

    # -- building blocks --------------------------------------------------

    def table(
        self,
        rows: Sequence[Sequence[Cell]],
        col_widths: Sequence[float],
        commands: Sequence[tuple[Any, ...]] = (),
        **options: Any,
    ) -> Table:
        """A Table whose plain-string cells (even empty ones) use the CJK font.

        Without the FONTNAME command ReportLab sets Helvetica for every cell,
        which then lands in the PDF unembedded.
        """
        table = Table(rows, colWidths=list(col_widths), **options)
        table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), self.font), *commands]))
        return table

    def cell(self, value: str, width: float | None = None) -> Cell:
        """User text in a table cell ``width`` points wide (padding included).

        Text that fits on one line is drawn as a plain string: nothing of it
        is parsed as markup, and it skips the Paragraph's parse, wrap and
        layout — most of a statement's rendering time.  Longer text (or an
        unknown width) becomes an escaped Paragraph, which wraps.
        """
        if width is not None and "\n" not in value:
            room = width - 2 * self.cell_padding
            if stringWidth(value, self.font, self.cell_size) <= room:
                return value
        return text(value, self.styles["cell"])

    def data_table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Cell]],
        widths_mm: Sequence[float],
        numeric_from: int | None,
        total: Sequence[Cell] | None = None,
        total_span: int = 1,
    ) -> Table:
        """A ruled table that splits across pages, repeating its header row.

        Columns from ``numeric_from`` on are right-aligned figures.  ``total``
        is a 合计 row whose first ``total_span`` cells are merged.
        """
        head = [Paragraph(escape(h), self.styles["cell_head"]) for h in header]
        body: list[Sequence[Cell]] = [head, *rows]
        if total is not None:
            body.append(total)
        table = Table(body, colWidths=[w * mm for w in widths_mm], repeatRows=1)
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), self.cell_size),
            ("LEADING", (0, 0), (-1, -1), self.cell_size + 3),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
            ("GRID", (0, 0), (-1, -1), 0.4, RULE),
            ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), self.cell_padding),
            ("RIGHTPADDING", (0, 0), (-1, -1), self.cell_padding),
        ]
        if numeric_from is not None:
            style.append(("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"))
        for index in range(2, len(rows) + 1, 2):
            style.append(("BACKGROUND", (0, index), (-1, index), STRIPE_FILL))
        if total is not None:
            style += [
                ("BACKGROUND", (0, -1), (-1, -1), TOTAL_FILL),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("ALIGN", (0, -1), (total_span - 1, -1), "CENTER"),
            ]
            if total_span > 1:
                style.append(("SPAN", (0, -1), (total_span - 1, -1)))
        table.setStyle(TableStyle(style))
        return table

    def signature_block(self, roles: Sequence[str], width: float) -> Flowable:
        """Signature lines (制表人 / 审核人 / 财政局…), each with a 日期 line."""
        size = 10
        # Right-aligned labels in equal cells: the longest one still leaves a
        # gap after the previous signature line.
        label_width = max(stringWidth(f"{role}：", self.font, size) for role in roles) + 8 * mm
        line_width = width / len(roles) - label_width
        sign_row: list[str] = []
        date_row: list[str] = []
        for role in roles:
            sign_row += [f"{role}：", ""]
            date_row += ["日期：", ""]
        table = Table(
            [sign_row, date_row],
            colWidths=[label_width, line_width] * len(roles),
            rowHeights=[12 * mm, 10 * mm],
        )
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), size),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
        ]
        for index in range(len(roles)):
            column = 2 * index + 1
            style.append(("LINEBELOW", (column, 0), (column, 1), 0.6, colors.black))
        table.setStyle(TableStyle(style))
        return KeepTogether([Spacer(1, 8 * mm), table])
