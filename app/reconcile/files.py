"""Reading the fund's settlement detail file: CSV or XLSX, UTF-8 (with or without BOM) or GBK.

Guarantees:

* the file is read as a stream, one row at a time (a CSV through an incremental
  decoder, an XLSX through openpyxl's read-only mode): no row is kept after it
  is handed on, so a city's month (a million rows) is read in bounded memory;
* every problem is counted and the first :data:`LISTED_PER_FIELD` of each field
  (by line) are kept to report, each as ``FILE:LINE: field: message`` (line 1 is
  the header), the rest as one count per field — a million bad rows make a
  report of a few dozen lines, not a million;
* every required column is present; the platform's fuller columns are read
  when present (an empty cell or ``null`` is none), others are ignored; every row passes
  :class:`~app.reconcile.schemas.SettlementRowSchema` (a fast path accepts only
  what the schema accepts and gives the same values; anything else is loaded by
  the schema itself, so its messages are the schema's); an ID number passes its
  check digit; a settlement's amounts are all ≥ 0 and a reversal's all ≤ 0;
  ``hifp_pay`` never exceeds ``fund_pay_sumamt``; a settlement id appears once
  (checked by the caller on what it staged, :func:`read_settlement_file` in memory);
* spreadsheet numbers become fen exactly: a cell holding ``12.15`` is read
  from its shortest decimal representation, never through float arithmetic.

Pure: a byte stream in, rows out; no database, no clock, no file system.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any
from zipfile import BadZipFile

from marshmallow import ValidationError

from app.errors import InvalidInput, Problem, ProblemCode
from app.localtime import SHANGHAI
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
# The first problems of each field listed; the rest counted (issue 22 goal 3).
LISTED_PER_FIELD = 20
_BLOCK = 1 << 20  # bytes read at a time while surveying a file
# What a failing read raises: an XLSX's XML with a DTD or entities (an expansion
# bomb, an external entity) is refused by defusedxml, which openpyxl uses when
# installed, with a ValueError; a malformed XML part is a SyntaxError (ParseError).
_UNREADABLE = (
    UnicodeDecodeError,
    csv.Error,
    ValueError,
    KeyError,
    OSError,
    BadZipFile,
    SyntaxError,
)


@dataclass(frozen=True)
class FileProblem:
    line: int
    field: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.field}: {self.message}"


@dataclass
class ProblemLog:
    """Every problem counted; the first ``per_field`` of each field (by line) kept to list."""

    per_field: int = LISTED_PER_FIELD
    counts: dict[str, int] = field(default_factory=dict)
    # Per field: (line, order of arrival, problem); trimmed now and then, so bounded.
    _kept: dict[str, list[tuple[int, int, FileProblem]]] = field(default_factory=dict)
    _arrived: int = 0

    def add(self, problem: FileProblem) -> None:
        self.counts[problem.field] = self.counts.get(problem.field, 0) + 1
        self._arrived += 1
        kept = self._kept.setdefault(problem.field, [])
        kept.append((problem.line, self._arrived, problem))
        if len(kept) > 2 * self.per_field:
            kept.sort()
            del kept[self.per_field :]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def listed(self) -> list[FileProblem]:
        """The problems kept, in line order (a line's in the order they were found)."""
        first = [entry for kept in self._kept.values() for entry in sorted(kept)[: self.per_field]]
        return [problem for _, _, problem in sorted(first)]

    def omitted(self) -> dict[str, int]:
        return {f: n - self.per_field for f, n in self.counts.items() if n > self.per_field}

    def rejected(self, source: str) -> SettlementFileRejected:
        return SettlementFileRejected(source, self.listed(), self.omitted(), self.counts)


class SettlementFileRejected(InvalidInput):
    """The file has problems; nothing of it was imported.

    ``omitted``: per field, how many more problems there were than are listed.
    """

    def __init__(
        self,
        source: str,
        problems: list[FileProblem],
        omitted: dict[str, int] | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.source = source
        self.file_problems = problems
        self.omitted = dict(omitted or {})
        self.counts = dict(counts or {})
        super().__init__(
            [Problem(f"line {p.line}.{p.field}", p.message, ProblemCode.BAD_ROW) for p in problems]
            + [
                Problem(name, self._more(name, more), ProblemCode.MORE_PROBLEMS)
                for name, more in sorted(self.omitted.items())
            ]
        )

    def _more(self, name: str, more: int) -> str:
        total = self.counts.get(name, more)
        return f"{more} more problems not listed ({total} in all)"

    @property
    def total(self) -> int:
        """How many problems the file had, listed or not."""
        return len(self.file_problems) + sum(self.omitted.values())

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.file_problems] + [
            f"{self.source}: {name}: {self._more(name, more)}"
            for name, more in sorted(self.omitted.items())
        ]


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or, failing that, GBK (GB 18030, its superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


@dataclass(frozen=True)
class Survey:
    """What one pass over a file found: its digest, size, kind and text encoding."""

    sha256: str
    size: int
    xlsx: bool
    encoding: str  # for a CSV: utf-8-sig, utf-8 or gb18030 (as decode_text would choose)


def survey(stream: IO[bytes], source: str) -> Survey:
    """Digest the file and choose its encoding, a block at a time; the stream is rewound.

    A CSV that is neither UTF-8 nor GB 18030 is refused here, before any row is read.
    """
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    size, start, valid_utf8 = 0, b"", True
    while block := stream.read(_BLOCK):
        if size < 4:
            start = (start + block)[:4]
        size += len(block)
        digest.update(block)
        if valid_utf8 and not start.startswith(_XLSX_MAGIC):
            try:
                utf8.decode(block)
            except UnicodeDecodeError:
                valid_utf8 = False
    xlsx = start.startswith(_XLSX_MAGIC)
    encoding = "utf-8"
    if not xlsx and valid_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            valid_utf8 = False
    stream.seek(0)
    if not xlsx:
        if stream.read(3) == b"\xef\xbb\xbf":
            encoding = "utf-8-sig"
            if not valid_utf8:  # decode_text: after a BOM, UTF-8 or nothing
                stream.seek(0)
                _refuse_undecodable(stream, source, "utf-8-sig")
        elif not valid_utf8:
            encoding = "gb18030"
            stream.seek(0)
            _refuse_undecodable(stream, source, encoding)
        stream.seek(0)
    return Survey(digest.hexdigest(), size, xlsx, encoding)


def _refuse_undecodable(stream: IO[bytes], source: str, encoding: str) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while block := stream.read(_BLOCK):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise SettlementFileRejected(
            source, [FileProblem(1, "file", f"unreadable: {exc}")]
        ) from None


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


def _records(stream: IO[bytes], found: Survey) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """(line, {column: cell}) for the header (line 1, values are the names) and each row."""
    if found.xlsx:
        from openpyxl import load_workbook

        book = load_workbook(stream, read_only=True, data_only=True)
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
    text = io.TextIOWrapper(stream, encoding=found.encoding, newline="")
    try:
        reader = csv.reader(text)
        header = [name.strip() for name in next(reader, [])]
        yield 1, {name: name for name in header}
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            yield number, {name: cell.strip() for name, cell in zip(header, row, strict=False)}
    finally:
        text.detach()  # the caller's stream stays open


_TEXT_MAX = {"fixmedins_code": 30, "setl_id": 40, "mdtrt_id": 40, "certno": 30}
_OPTIONAL_TEXT_MAX = {"medins_setl_id": 40, "psn_no": 30, "insutype": 6, "med_type": 6}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FAST_YUAN = re.compile(r"(-?)([0-9]{1,15})(?:\.([0-9]{1,2}))?")
_FAST_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
_NONE = ("", "null", "NULL")


# Amounts and ID numbers repeat across a month's rows (a few dozen prices, each
# person's visits): what they load to is remembered, a bounded number of them.
_REMEMBERED = 50_000
_yuan_seen: dict[str, int | None] = {}
_certno_seen: dict[str, str | None] = {}


def _fast_yuan(value: Any) -> int | None:
    """Fen of a plain ``-12.5``-shaped amount (what parse_yuan gives); None: ask the schema."""
    if type(value) is not str:
        return None
    try:
        return _yuan_seen[value]
    except KeyError:
        pass
    fen: int | None = None
    match = _FAST_YUAN.fullmatch(value)
    if match is not None:
        sign, whole, cents = match.groups()
        fen = int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
        fen = -fen if sign else fen
    if len(_yuan_seen) >= _REMEMBERED:
        _yuan_seen.clear()
    _yuan_seen[value] = fen
    return fen


def _fast_time(value: Any) -> dt.datetime | None:
    """:class:`~app.reconcile.schemas.LocalTime` of the common shapes; None: ask the schema."""
    if isinstance(value, dt.datetime):
        moment = value
    elif type(value) is str and _FAST_TIME.fullmatch(value) is not None:
        try:  # the pattern admits only what strptime's "%Y-%m-%d %H:%M:%S" reads alike
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    if not _EARLIEST <= moment <= _LATEST:
        return None
    return moment.astimezone(dt.UTC)


def _id_problem(certno: str) -> str | None:
    try:
        return _certno_seen[certno]
    except KeyError:
        pass
    if len(_certno_seen) >= _REMEMBERED:
        _certno_seen.clear()
    problem = _certno_seen[certno] = id_number_problem(certno)
    return problem


_ABSENT: dict[str, Any] = {
    **dict.fromkeys(OPTIONAL_TEXT, ""),
    **dict.fromkeys(OPTIONAL_MONEY, 0),
}


def _fast_load(record: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any] | None:
    """What the schema would load from a plainly valid row, or None to let the schema decide.

    Accepts a subset of what the schema accepts, and gives the same values:
    anything unusual (and every invalid row) goes through the schema, whose
    messages are the ones reported.  ``optional``: the optional columns the
    file has (the others load as none).
    """
    loaded: dict[str, Any] = dict(_ABSENT)
    for name, longest in _TEXT_MAX.items():
        value = record.get(name)
        if type(value) is not str or not 1 <= len(value) <= longest or _CONTROL.search(value):
            return None
        loaded[name] = value
    moment = _fast_time(record.get("setl_time"))
    if moment is None:
        return None
    loaded["setl_time"] = moment
    for name in _MONEY:
        fen = _fast_yuan(record.get(name))
        if fen is None:
            return None
        loaded[name] = fen
    for name in optional:
        value = record.get(name, "")
        if value in _NONE:
            continue
        if name in _OPTIONAL_TEXT_MAX:
            if type(value) is not str or len(value) > _OPTIONAL_TEXT_MAX[name]:
                return None
            if _CONTROL.search(value):
                return None
            loaded[name] = value
        elif name == "refd_setl_flag":
            if value not in ("0", "1"):
                return None
            loaded[name] = value
        else:
            fen = _fast_yuan(value)
            if fen is None:
                return None
            loaded[name] = fen
    return loaded


def _check_meaning(line: int, row: dict[str, Any]) -> list[FileProblem]:
    problems = []
    id_problem = _id_problem(row["certno"])
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


def settlement_rows(
    stream: IO[bytes], source: str, problems: ProblemLog, found: Survey | None = None
) -> Iterator[SettlementRow]:
    """The file's rows, one at a time; every problem goes to ``problems``.

    A row the schema refuses is not yielded; a row whose values mean something
    impossible (a bad ID number, mixed signs …) is yielded all the same, so the
    caller can see its settlement id repeated — the caller imports nothing when
    ``problems`` holds any.  A file that cannot be read at all, or lacks a
    required column, is refused at once (:class:`SettlementFileRejected`, that
    problem alone).  ``found``: the :func:`survey` of the stream, if made.
    """
    if found is None:
        found = survey(stream, source)
    schema = SettlementRowSchema()
    records = _records(stream, found)
    try:
        first = next(records, None)
        if first is None:
            raise SettlementFileRejected(source, [FileProblem(1, "file", "the file is empty")])
        header = first[1]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise SettlementFileRejected(
                source, [FileProblem(1, name, "required column is missing") for name in missing]
            )
        optional = tuple(name for name in OPTIONAL_COLUMNS if name in header)
        for line, record in records:
            loaded = _fast_load(record, optional)
            if loaded is None:
                try:
                    loaded = schema.load(
                        {k: v for k, v in record.items() if k in COLUMNS}
                        | {
                            k: v
                            for k, v in record.items()
                            if k in OPTIONAL_COLUMNS and v not in _NONE
                        }
                    )
                except ValidationError as exc:
                    messages = (
                        exc.messages if isinstance(exc.messages, dict) else {"row": exc.messages}
                    )
                    for name, msgs in messages.items():
                        text = msgs[0] if isinstance(msgs, list) else str(msgs)
                        problems.add(FileProblem(line, str(name), str(text)))
                    continue
            for problem in _check_meaning(line, loaded):
                problems.add(problem)
            yield SettlementRow(
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
    except _UNREADABLE as exc:
        raise SettlementFileRejected(
            source, [FileProblem(1, "file", f"unreadable: {exc}")]
        ) from None
    finally:
        records.close()


def read_settlement_file(data: bytes, source: str) -> list[SettlementRow]:
    """Every row of a (small) file, or :class:`SettlementFileRejected` listing its problems.

    The whole file in memory, a repeated settlement id found here: for the
    platform's answers and tests; an import streams (:mod:`app.reconcile.operations`).
    """
    problems = ProblemLog()
    rows: list[SettlementRow] = []
    seen: dict[str, int] = {}
    for row in settlement_rows(io.BytesIO(data), source, problems):
        if row.setl_id in seen:
            problems.add(FileProblem(row.line, "setl_id", f"repeats line {seen[row.setl_id]}"))
        seen.setdefault(row.setl_id, row.line)
        rows.append(row)
    if problems.total:
        raise problems.rejected(source)
    return rows
