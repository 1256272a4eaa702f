"""Reading the fund's settlement detail file: CSV or XLSX, UTF-8 (with or without BOM) or GBK.

Guarantees:

* the whole file is read and every problem reported, each as
  ``FILE:LINE: field: message`` (line 1 is the header), before anything is
  written — the caller imports all of it or nothing;
* every required column is present; the platform's fuller columns are read
  when present (an empty cell or ``null`` is none), others are ignored; every row passes
  :class:`~app.reconcile.schemas.SettlementRowSchema`; an ID number passes its
  check digit; a settlement's amounts are all ≥ 0 and a reversal's all ≤ 0;
  ``hifp_pay`` never exceeds ``fund_pay_sumamt``; a settlement id appears once;
* spreadsheet numbers become fen exactly: a cell holding ``12.15`` is read
  from its shortest decimal representation, never through float arithmetic.

Pure: bytes in, rows out; no database, no clock, no file system.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zipfile import BadZipFile

from marshmallow import ValidationError

from app.errors import InvalidInput, Problem, ProblemCode
from app.people.rules import id_number_problem
from app.reconcile.rules import SettlementRow
from app.reconcile.schemas import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    OPTIONAL_MONEY,
    OPTIONAL_TEXT,
    SettlementRowSchema,
)

_XLSX_MAGIC = b"PK\x03\x04"
_MONEY = (
    "medfee_sumamt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)


@dataclass(frozen=True)
class FileProblem:
    line: int
    field: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.field}: {self.message}"


class SettlementFileRejected(InvalidInput):
    """The file has problems; nothing of it was imported."""

    def __init__(self, source: str, problems: list[FileProblem]) -> None:
        self.source = source
        self.file_problems = problems
        super().__init__(
            [Problem(f"line {p.line}.{p.field}", p.message, ProblemCode.BAD_ROW) for p in problems]
        )

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.file_problems]


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or, failing that, GBK (GB 18030, its superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _cell(value: Any) -> Any:
    """A spreadsheet cell as the text a person typed (numbers exactly)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest decimal that reads back as this float: 12.15, not 12.1499…
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value
    return str(value).strip()


def _records(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, {column: cell}) for the header (line 1, values are the names) and each row."""
    if data.startswith(_XLSX_MAGIC):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
            yield 1, {name: name for name in header}
            for number, row in enumerate(rows, start=2):
                if all(c is None or str(c).strip() == "" for c in row):
                    continue
                yield number, {name: _cell(c) for name, c in zip(header, row, strict=False)}
        finally:
            book.close()
        return
    reader = csv.reader(io.StringIO(decode_text(data), newline=""))
    header = [name.strip() for name in next(reader, [])]
    yield 1, {name: name for name in header}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        yield number, {name: cell.strip() for name, cell in zip(header, row, strict=False)}


def _check_meaning(line: int, row: dict[str, Any]) -> list[FileProblem]:
    problems = []
    id_problem = id_number_problem(row["certno"])
    if id_problem:
        problems.append(FileProblem(line, "certno", f"not a valid ID number: {id_problem}"))
    positive = [n for n in _MONEY if row[n] > 0]
    negative = [n for n in _MONEY if row[n] < 0]
    if positive and negative:
        problems.append(
            FileProblem(
                line,
                negative[0],
                "a settlement's amounts are all ≥ 0 and a reversal's all ≤ 0; this row mixes them",
            )
        )
    if abs(row["hifp_pay"]) > abs(row["fund_pay_sumamt"]):
        problems.append(FileProblem(line, "hifp_pay", "exceeds fund_pay_sumamt"))
    return problems


def read_settlement_file(data: bytes, source: str) -> list[SettlementRow]:
    """Every row of the file, or :class:`SettlementFileRejected` listing every problem."""
    schema = SettlementRowSchema()
    problems: list[FileProblem] = []
    rows: list[SettlementRow] = []
    seen: dict[str, int] = {}
    try:
        records = list(_records(data))
    # An XLSX's XML with a DTD or entities (an expansion bomb, an external
    # entity) is refused by defusedxml, which openpyxl uses when installed, with
    # a ValueError; a malformed XML part is a SyntaxError (ParseError).
    except (
        UnicodeDecodeError,
        csv.Error,
        ValueError,
        KeyError,
        OSError,
        BadZipFile,
        SyntaxError,
    ) as exc:
        raise SettlementFileRejected(
            source, [FileProblem(1, "file", f"unreadable: {exc}")]
        ) from None
    if not records:
        raise SettlementFileRejected(source, [FileProblem(1, "file", "the file is empty")])
    header = records[0][1]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise SettlementFileRejected(
            source, [FileProblem(1, name, "required column is missing") for name in missing]
        )
    for line, record in records[1:]:
        try:
            loaded = schema.load(
                {k: v for k, v in record.items() if k in COLUMNS}
                | {
                    k: v
                    for k, v in record.items()
                    if k in OPTIONAL_COLUMNS and v not in ("", "null", "NULL")
                }
            )
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"row": exc.messages}
            for name, msgs in messages.items():
                text = msgs[0] if isinstance(msgs, list) else str(msgs)
                problems.append(FileProblem(line, str(name), str(text)))
            continue
        row_problems = _check_meaning(line, loaded)
        if loaded["setl_id"] in seen:
            row_problems.append(
                FileProblem(line, "setl_id", f"repeats line {seen[loaded['setl_id']]}")
            )
        seen.setdefault(loaded["setl_id"], line)
        problems += row_problems
        if not row_problems:
            rows.append(
                SettlementRow(
                    line=line,
                    insurance_code=loaded["fixmedins_code"],
                    setl_id=loaded["setl_id"],
                    mdtrt_id=loaded["mdtrt_id"],
                    certno=loaded["certno"].upper(),
                    setl_time=loaded["setl_time"],
                    **{name: loaded[name] for name in _MONEY},
                    **{name: loaded[name] for name in OPTIONAL_MONEY},
                    **{name: loaded[name] for name in OPTIONAL_TEXT},
                )
            )
    if problems:
        raise SettlementFileRejected(source, problems)
    return rows
