"""CSV and XLSX of a statement and of a district summary; CSV of their visits.

Guarantees: the exported figures are the same :class:`Figures` the JSON and
the PDF are built from, under the same labels (:mod:`app.settlement.labels`, in
Chinese, with no English field-name column); money is written as exact
two-decimal yuan (text in CSV, a number formatted ``0.00`` in XLSX, from
``Decimal`` never ``float`` arithmetic); in XLSX quantities are numbers and
dates real date cells, each with a number format; CSV is UTF-8 with a BOM so
Excel on a Chinese Windows opens it;
every text cell passes :func:`app.spreadsheet.safe_cell`, so a name that looks
like a formula (``=HYPERLINK(…)``) is shown as text and never runs.

Every CSV is made as chunks (:func:`csv_chunks`) sent as they are written.
The visit detail (:func:`visits_csv`, one line per visit: a city's month is a
million) never holds more than a chunk; its totals line is summed as the
lines go and equals the statement's (or the summary's) figures.  It has no
XLSX: a spreadsheet stops at 1,048,576 rows, fewer than a city's month.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from app.glossary import zh
from app.localtime import format_local
from app.money import format_quantity, format_yuan
from app.people.rules import mask_id_number
from app.settlement.adjustments import reason_label, source_label
from app.settlement.figures import COUNT_FIELDS, FIGURE_FIELDS, MONEY_FIELDS, Figures
from app.settlement.labels import document_locale, figure_labels, status_label
from app.settlement.queries import DistrictSummary, StatementView
from app.spreadsheet import safe_cell
from app.visits.rules import diagnosis_text

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
# The detail's own columns; the statement's figures follow under their labels.
VISIT_HEADER = ["收据号", "卫生站编码", "卫生站", "就诊日期", "就诊时间", "身份证号", "诊断"]
# Rows per CSV chunk sent: about 100 kB of a visit detail.
CHUNK_ROWS = 1000
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


def csv_chunks(
    rows: Iterable[list[Any]], chunk_rows: int | None = None, *, checked: bool = False
) -> Iterator[bytes]:
    """``rows`` as UTF-8 CSV (BOM first, CRLF lines), ``chunk_rows`` rows per chunk.

    Joined, the chunks are byte for byte the file written in one go; only one
    chunk's text is ever held, however many rows there are.  Every cell passes
    :func:`safe_cell` unless ``checked`` says the rows' text cells already did.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    for count, row in enumerate(rows, start=1):
        writer.writerow(row if checked else [safe_cell(value) for value in row])
        if count % chunk_rows == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


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
    # fiscal + fund reconciliation + review disallowances = due, each its own line.
    for name, amount in (
        ("fiscal", f.fiscal),
        ("fund_adjustment", view.fund_adjustment),
        ("review_deduction", view.review_deduction),
        ("backstop_due", view.backstop_due),
    ):
        adjustments.append([zh(name), "", "", "", "", "", money(amount)])
    diagnoses = [["诊断编码", "诊断名称", "人次"]]
    diagnoses += [[d.code, d.name, cell("visits", d.visits)] for d in view.diagnoses]
    return {
        "head": head,
        "summary": summary,
        "days": days,
        "items": items,
        "adjustments": adjustments,
        "diagnoses": diagnoses,
    }


def statement_csv(view: StatementView) -> Iterator[bytes]:
    """Sections separated by a blank line: header, summary, days, items, adjustments and
    (when the month's visits have any) the top main diagnoses."""
    with document_locale():
        parts = _statement_rows(view, _text, format_yuan, format_quantity, date.isoformat)
    rows: list[list[Any]] = []
    names = ["head", "summary", "days", "items", "adjustments"]
    if view.diagnoses:
        names.append("diagnoses")
    for name in names:
        if rows:
            rows.append([])
        rows += parts[name]
    return csv_chunks(rows)


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
    if view.diagnoses:
        _sheet(wb, "主要诊断", parts["diagnoses"])
    return _xlsx(wb)


def _summary_rows(summary: DistrictSummary, cell: Any, money: Any, on_day: Any) -> list[list[Any]]:
    head = ["卫生站编码", "卫生站", "镇（街）", "状态", *figure_labels().values()]
    due_head = [zh("fund_adjustment"), zh("review_deduction"), zh("backstop_due")]
    rows: list[list[Any]] = [[*head, *due_head, "已拨付", "拨付日期", "拨付凭证号"]]
    for line in summary.lines:
        rows.append(
            [
                line.clinic.code,
                line.clinic.name,
                line.clinic.village.town.name,
                status_label(line.shown_status),
                *_figure_row(line.figures, cell),
                money(line.fund_adjustment),
                money(line.review_deduction),
                money(line.backstop_due),
                money(line.paid.amount) if line.paid else "",
                on_day(line.paid.paid_on) if line.paid else "",
                line.paid.reference if line.paid else "",
            ]
        )
    totals = _figure_row(summary.totals, cell)
    due = [
        money(summary.fund_adjustment),
        money(summary.review_deduction),
        money(summary.backstop_due),
    ]
    rows.append(["合计", "", "", "", *totals, *due, money(summary.paid), "", ""])
    # What is still owed: the backstop due of the month less what has been paid.
    owed: list[Any] = ["" for _ in FIGURE_FIELDS]
    rows.append(["未拨付", "", "", "", *owed, "", "", money(summary.outstanding), "", "", ""])
    return rows


def summary_csv(summary: DistrictSummary) -> Iterator[bytes]:
    with document_locale():
        return csv_chunks(_summary_rows(summary, _text, format_yuan, date.isoformat))


def summary_xlsx(summary: DistrictSummary) -> bytes:
    with document_locale():
        rows = _summary_rows(summary, _cell, _xlsx_money, _xlsx_date)
    wb = Workbook()
    _sheet(wb, summary.month, rows, first=True)
    return _xlsx(wb)


# --- the month's visits one by one --------------------------------------------------------


def visits_header() -> list[str]:
    """The detail's columns: the visit, then the statement's figures under their labels."""
    return [*VISIT_HEADER, *figure_labels().values()]


def _visit_lines(rows: Iterable[Any]) -> Iterator[list[Any]]:
    # A million lines for a city's month: per line, C-level getters and adds
    # rather than a Python loop per figure.
    counts = [0, 0, 0]
    money = [0] * len(MONEY_FIELDS)
    amounts: Any = None
    for row in rows:
        if amounts is None:
            amounts = operator.itemgetter(*(row._fields.index(n) for n in MONEY_FIELDS))
        # What this one visit adds to each statement figure: the counts are 1 or 0.
        flags = (1, 1 if row.programme else 0, 1 if row.injected else 0)
        values = amounts(row)
        counts = list(map(operator.add, counts, flags))
        money = list(map(operator.add, money, values))
        yield [
            safe_cell(row.receipt_number),
            safe_cell(row.clinic_code),
            safe_cell(row.clinic_name),
            row.visit_date.isoformat(),
            format_local(row.visited_at, "%H:%M"),
            mask_id_number(row.patient_id_number),
            safe_cell(diagnosis_text(row.diagnoses, row.diagnosis_names)),
            *map(str, flags),
            *map(format_yuan, values),
        ]
    # The last line is the statement (or the summary's totals) to the fen.
    blank = ["" for _ in VISIT_HEADER[1:]]
    yield ["合计", *blank, *map(str, counts), *map(format_yuan, money)]


def visits_csv(rows: Iterable[Any]) -> Iterator[bytes]:
    """One line per unvoided visit and a totals line, as CSV chunks.

    ``rows`` are :func:`app.settlement.queries.visit_detail_rows`; they are read
    as the chunks are taken, so memory holds one chunk and one batch of rows,
    never the month.  ID numbers are masked as in every list.
    """
    with document_locale():
        header = visits_header()
    # Text from the database passed safe_cell in _visit_lines; the rest is ours.
    return csv_chunks(itertools.chain([header], _visit_lines(rows)), checked=True)
