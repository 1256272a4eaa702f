"""The monthly stock statement as files: an A4 PDF (reports.stock) and a spreadsheet.

Both are made from one :class:`~app.stock.queries.StockStatement`, so the page,
the PDF and the XLSX show the same figures; the flags are in the reader's
words (the documents are rendered under the Chinese locale).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from flask_babel import force_locale
from openpyxl import Workbook
from openpyxl.styles import Font

from app.glossary import zh
from app.localtime import format_local
from app.money import format_yuan
from app.spreadsheet import safe_cell
from app.stock.labels import flag_words
from app.stock.queries import StockStatement, visits_by_id
from app.stock.rules import signed_quantity
from reports.stock import StockDocument, StockFlagLine, StockLine, render_stock

HEADER = [
    "医保目录编码",
    "机构编码",
    "名称",
    "单位",
    "期初库存",
    "采购入库(3503)",
    "入库金额",
    "销售出库(3505)",
    "盘存调整(3501)",
    "期末库存",
]


def _flag_lines(view: StockStatement) -> list[StockFlagLine]:
    visits = visits_by_id([v for f in view.flags for v in f.visit_ids])
    return [
        StockFlagLine(
            flag_words(f),
            "、".join(visits[v].receipt_number for v in f.visit_ids if v in visits),
        )
        for f in view.flags
    ]


def stock_pdf(view: StockStatement, now: dt.datetime) -> bytes:
    with force_locale("zh"):  # the documents are Chinese whatever the screen says
        flags = _flag_lines(view)
    doc = StockDocument(
        clinic_code=view.clinic.code,
        clinic_name=view.clinic.name,
        month=view.month,
        generated_at=format_local(now),
        lines=[
            StockLine(
                row.national_code or "",
                row.item_code,
                row.name,
                row.unit,
                row.opening,
                row.delivered,
                row.delivered_amount,
                row.dispensed,
                row.adjusted,
                row.closing,
            )
            for row in view.rows
        ],
        flags=flags,
    )
    return render_stock(doc)


def _number(milli: int) -> Decimal:
    return Decimal(signed_quantity(milli))


def stock_xlsx(view: StockStatement) -> bytes:
    """Sheets 进销存 (one row per item, as the PDF) and 风险提示 (the flags and receipts)."""
    with force_locale("zh"):  # the documents are Chinese whatever the screen says
        flags = _flag_lines(view)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "进销存"
    rows: list[list[Any]] = [HEADER]
    for row in view.rows:
        rows.append(
            [
                row.national_code or "",
                row.item_code,
                row.name,
                row.unit,
                _number(row.opening),
                _number(row.delivered),
                Decimal(format_yuan(row.delivered_amount)),
                _number(row.dispensed),
                _number(row.adjusted),
                _number(row.closing),
            ]
        )
    for values in rows:
        ws.append([safe_cell(v) for v in values])
    for c in ws[1]:
        c.font = Font(bold=True)
    sheet = wb.create_sheet(zh("risk_flag"))
    sheet.append(["提示", "涉及收据"])
    for flag in flags:
        sheet.append([safe_cell(flag.what), safe_cell(flag.visits)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
