"""CSV and XLSX of a statement and of a district summary.

Guarantees: the exported figures are the same :class:`Figures` the JSON and
the PDF are built from, under the same labels (:mod:`app.settlement.labels`, in
Chinese, with no English field-name column); money is written as exact
two-decimal yuan (text in CSV, a number formatted ``0.00`` in XLSX, from
``Decimal`` never ``float`` arithmetic); in XLSX quantities are numbers and
dates real date cells, each with a number format; CSV is UTF-8 with a BOM so
Excel on a Chinese Windows opens it;
every text cell passes :func:`app.spreadsheet.safe_cell`, so a name that looks
like a formula (``=HYPERLINK(…)``) is shown as text and never runs.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from app.money import format_quantity, format_yuan
from app.settlement.adjustments import reason_label, source_label
from app.settlement.figures import COUNT_FIELDS, FIGURE_FIELDS, Figures
from app.settlement.labels import document_locale, figure_labels, status_label
from app.settlement.queries import DistrictSummary, StatementView
from app.spreadsheet import safe_cell

ITEM_HEADER = ["编码", "名称", "单位", "数量", "金额"]
ADJUSTMENT_HEADER = [
    "收据号",
    "所属月份",
    "来源",
    "原因",
    "本系统计算医保",
    "医保实际支付",
    "调整金额",
]
MONEY_FORMAT = "0.00"
# "General" shows 12 and 1.5 as the app does; "0.###" would show "12.".
QUANTITY_FORMAT = "General"
DATE_FORMAT = "yyyy-mm-dd"


class _Quantity(Decimal):
    """A quantity cell: a number shown with up to three decimals, not money."""


def _xlsx_money(fen: int) -> Decimal:
    return Decimal(format_yuan(fen))


def _xlsx_quantity(thousandths: int) -> Decimal:
    return _Quantity(format_quantity(thousandths))


def _xlsx_date(day: date) -> datetime:
    # A real date cell (openpyxl writes datetime as a serial number) so Excel
    # sorts and filters by date; shown as 2026-11-29 by DATE_FORMAT.
    return datetime(day.year, day.month, day.day)


def _text(name: str, value: int) -> str:
    return str(value) if name in COUNT_FIELDS else format_yuan(value)


def _cell(name: str, value: int) -> int | Decimal:
    # Decimal from the exact yuan string: openpyxl writes it as a number cell.
    return value if name in COUNT_FIELDS else Decimal(format_yuan(value))


def _figure_row(f: Figures, cell: Any) -> list[Any]:
    return [cell(n, getattr(f, n)) for n in FIGURE_FIELDS]


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([[safe_cell(value) for value in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _statement_rows(
    view: StatementView, cell: Any, money: Any, quantity: Any, on_day: Any
) -> dict[str, list[list[Any]]]:
    f = view.figures
    labels = figure_labels()
    head = [
        ["卫生站编码", view.clinic.code],
        ["卫生站", view.clinic.name],
        ["结算月份", view.month],
        ["状态", status_label(view.status)],
    ]
    # One column of words (the labels table) and one of values: the English
    # field names are the API's vocabulary, not the clerk's.
    summary = [["项目", "数值"]] + [[labels[n], cell(n, getattr(f, n))] for n in FIGURE_FIELDS]
    days = [["日期"] + [labels[n] for n in FIGURE_FIELDS]]
    days += [[on_day(day), *_figure_row(df, cell)] for day, df in view.days]
    days.append(["合计", *_figure_row(sum((df for _, df in view.days), Figures()), cell)])
    items = [ITEM_HEADER]
    items += [[i.code, i.name, i.unit, quantity(i.quantity), money(i.amount)] for i in view.items]
    items.append(["合计", "", "", "", money(sum(i.amount for i in view.items))])
    adjustments = [ADJUSTMENT_HEADER] + [
        [
            a.receipt_number,
            a.belongs_to,
            source_label(a.source),
            reason_label(a.reason),
            money(a.fund_computed),
            money(a.fund_paid),
            money(a.amount),
        ]
        for a in view.adjustments
    ]
    adjustments.append(["调整合计", "", "", "", "", "", money(view.adjustment_total)])
    adjustments.append(["应拨付区财政兜底", "", "", "", "", "", money(view.backstop_due)])
    return {
        "head": head,
        "summary": summary,
        "days": days,
        "items": items,
        "adjustments": adjustments,
    }


def statement_csv(view: StatementView) -> bytes:
    """Sections separated by a blank line: header, summary, days, items, adjustments."""
    with document_locale():
        parts = _statement_rows(view, _text, format_yuan, format_quantity, date.isoformat)
    rows: list[list[Any]] = []
    for name in ("head", "summary", "days", "items", "adjustments"):
        if rows:
            rows.append([])
        rows += parts[name]
    return _csv(rows)


def _sheet(wb: Workbook, title: str, rows: list[list[Any]], first: bool = False) -> None:
    ws = wb.active if first else wb.create_sheet()
    assert ws is not None
    ws.title = title
    for row in rows:
        ws.append([safe_cell(value) for value in row])
    for cells in ws.iter_rows():
        for c in cells:
            if isinstance(c.value, _Quantity):
                c.number_format = QUANTITY_FORMAT
            elif isinstance(c.value, Decimal):
                c.number_format = MONEY_FORMAT
            elif isinstance(c.value, datetime):
                c.number_format = DATE_FORMAT
    header_fill = PatternFill("solid", fgColor="EEF2F6")
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = header_fill
    for i in range(1, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(i)].width = 14
    ws.freeze_panes = "A2"


def _xlsx(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def statement_xlsx(view: StatementView) -> bytes:
    """Sheets 汇总 (header + figures), 逐日 (days), 项目 (items), 对账调整 (adjustments)."""
    with document_locale():
        parts = _statement_rows(view, _cell, _xlsx_money, _xlsx_quantity, _xlsx_date)
    wb = Workbook()
    _sheet(wb, "汇总", parts["summary"] + [[]] + parts["head"], first=True)
    _sheet(wb, "逐日", parts["days"])
    _sheet(wb, "项目", parts["items"])
    _sheet(wb, "对账调整", parts["adjustments"])
    return _xlsx(wb)


def _summary_rows(summary: DistrictSummary, cell: Any, money: Any, on_day: Any) -> list[list[Any]]:
    head = ["卫生站编码", "卫生站", "镇（街）", "状态", *figure_labels().values()]
    rows: list[list[Any]] = [[*head, "对账调整", "应拨付", "已拨付", "拨付日期", "拨付凭证号"]]
    for line in summary.lines:
        rows.append(
            [
                line.clinic.code,
                line.clinic.name,
                line.clinic.village.town.name,
                status_label(line.status),
                *_figure_row(line.figures, cell),
                money(line.adjustment_total),
                money(line.backstop_due),
                money(line.paid.amount) if line.paid else "",
                on_day(line.paid.paid_on) if line.paid else "",
                line.paid.reference if line.paid else "",
            ]
        )
    totals = _figure_row(summary.totals, cell)
    due = [money(summary.adjustment_total), money(summary.backstop_due)]
    rows.append(["合计", "", "", "", *totals, *due, money(summary.paid), "", ""])
    # What is still owed: the backstop due of the month less what has been paid.
    owed: list[Any] = ["" for _ in FIGURE_FIELDS]
    rows.append(["未拨付", "", "", "", *owed, "", money(summary.outstanding), "", "", ""])
    return rows


def summary_csv(summary: DistrictSummary) -> bytes:
    with document_locale():
        return _csv(_summary_rows(summary, _text, format_yuan, date.isoformat))


def summary_xlsx(summary: DistrictSummary) -> bytes:
    with document_locale():
        rows = _summary_rows(summary, _cell, _xlsx_money, _xlsx_date)
    wb = Workbook()
    _sheet(wb, summary.month, rows, first=True)
    return _xlsx(wb)
