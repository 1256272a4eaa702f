"""Reading the bureau's CSV files: decoding, the header, and every row's meaning.

Guarantees:

* a file is read as UTF-8 with or without a byte-order mark; the header must
  name exactly the columns of its kind (in any order);
* every problem is reported, not just the first, each as a :class:`RowProblem`
  (line, field, message) that prints as ``FILE:LINE: field: message``;
* a row that passes gives a typed, normalised value (dates, fen, an ID number
  with ``X`` upper-cased, sex and birth date derived); an empty cell is None;
* file-wide rules are checked here too: a key appears once per file (a price
  period once per item), and an item's price periods never overlap, counting
  the periods already in the catalogue.

Pure: no Flask, no SQLAlchemy, no clock, no file system.  The caller passes
what it knows of the database (known village codes, existing price periods).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.errors import InvalidInput, Problem
from app.money import MoneyFormatError, parse_yuan
from app.people.rules import parse_id_number

T = TypeVar("T")

KINDS = ("villages", "clinics", "residents", "catalog")

COLUMNS: dict[str, tuple[str, ...]] = {
    "villages": (
        "code",
        "name",
        "kind",
        "town_code",
        "town_name",
        "district_code",
        "district_name",
    ),
    "clinics": ("code", "name", "village_code", "insurance_code", "joined_on", "left_on"),
    "residents": (
        "id_number",
        "name",
        "hukou_village_code",
        "insurance_type",
        "insured_from",
        "insured_to",
    ),
    "catalog": (
        "code",
        "name",
        "kind",
        "unit",
        "insurance_class",
        "price",
        "valid_from",
        "valid_to",
    ),
}

VILLAGE_KINDS = ("village", "community")
INSURANCE_TYPES = ("resident", "employee", "none")
ITEM_KINDS = ("diagnosis", "drug", "service", "material")
INSURANCE_CLASSES = ("A", "B", "C")

_DISTRICT = re.compile(r"^\d{6}$")
_TOWN = re.compile(r"^\d{9}$")
_VILLAGE = re.compile(r"^\d{12}$")
# Clinic and item codes are typed by doctors at the terminal: letters, digits, - and _.
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, order=True)
class RowProblem:
    """One problem at one line of a file (line 1 is the header)."""

    line: int
    field: str
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class CsvRow:
    line: int
    cells: dict[str, str | None]  # stripped; an empty cell is None


@dataclass(frozen=True)
class Lined(Generic[T]):
    """A valid row's value and the line it came from."""

    line: int
    value: T


# --- decoding and the header -------------------------------------------------


def decode(data: bytes) -> tuple[str | None, list[RowProblem]]:
    """UTF-8 text without its BOM, or the line where the bytes stop being UTF-8."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            RowProblem(line, "file", "is not UTF-8 text (save the spreadsheet as CSV UTF-8)")
        ]


def parse_csv(text: str, columns: tuple[str, ...]) -> tuple[list[CsvRow], list[RowProblem]]:
    """Rows keyed by column; blank lines skipped; header and cell-count problems."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowProblem(1, "header", f"the file is empty; expected {','.join(columns)}")]
    except csv.Error as exc:
        return [], [RowProblem(1, "header", f"not valid CSV: {exc}")]
    names = [h.strip() for h in header]
    problems: list[RowProblem] = []
    missing = [c for c in columns if c not in names]
    unknown = [n for n in names if n not in columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if missing:
        problems.append(RowProblem(1, "header", f"missing column(s) {', '.join(missing)}"))
    if unknown:
        problems.append(RowProblem(1, "header", f"unknown column(s) {', '.join(unknown)}"))
    if duplicated:
        problems.append(RowProblem(1, "header", f"repeated column(s) {', '.join(duplicated)}"))
    if problems:
        return [], problems

    rows: list[CsvRow] = []
    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(reader.line_num, "row", f"not valid CSV: {exc}"))
            break
        start, line = line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            problems.append(
                RowProblem(start, "row", f"has {len(cells)} cells, the header has {len(names)}")
            )
            continue
        rows.append(
            CsvRow(start, {n: (c.strip() or None) for n, c in zip(names, cells, strict=True)})
        )
    return rows, problems


# --- cells ---------------------------------------------------------------------


class _Cells:
    """Reads one row's cells, collecting a problem per bad cell."""

    def __init__(self, cells: Mapping[str, str | None]) -> None:
        self.cells = cells
        self.problems: list[Problem] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(Problem(field, message))

    def text(self, field: str, max_len: int, *, required: bool = True) -> str | None:
        value = self.cells.get(field)
        if value is None:
            if required:
                self.problem(field, "is required")
            return None
        if len(value) > max_len:
            self.problem(field, f"is longer than {max_len} characters")
            return None
        return value

    def matching(self, field: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.cells.get(field)
        if value is None:
            self.problem(field, "is required")
            return None
        if not pattern.match(value):
            self.problem(field, f"must be {what}, not {value!r}")
            return None
        return value

    def choice(self, field: str, choices: tuple[str, ...]) -> str | None:
        value = self.cells.get(field)
        if value is None:
            self.problem(field, f"is required (one of {', '.join(choices)})")
            return None
        if value not in choices:
            self.problem(field, f"must be one of {', '.join(choices)}, not {value!r}")
            return None
        return value

    def date(self, field: str, *, required: bool = False) -> dt.date | None:
        value = self.cells.get(field)
        if value is None:
            if required:
                self.problem(field, "is required (a date like 2026-01-31)")
            return None
        try:
            if not _DATE.match(value):
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            self.problem(field, f"must be a date like 2026-01-31, not {value!r}")
            return None

    def ordered(self, first: str, start: dt.date | None, end: dt.date | None) -> None:
        """``end`` (inclusive) on or after ``start``; the problem goes on the later field."""
        if start is not None and end is not None and end < start:
            self.problem(first, f"must not be before {start.isoformat()}")


# --- rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class VillageRow:
    code: str
    name: str
    kind: str
    town_code: str
    town_name: str
    district_code: str
    district_name: str


@dataclass(frozen=True)
class ClinicRow:
    code: str
    name: str
    village_code: str
    insurance_code: str | None
    joined_on: dt.date | None
    left_on: dt.date | None


@dataclass(frozen=True)
class ResidentRow:
    id_number: str
    name: str
    sex: str
    birth_date: dt.date
    hukou_village_code: str
    insurance_type: str
    insured_from: dt.date | None
    insured_to: dt.date | None


@dataclass(frozen=True)
class CatalogRow:
    code: str
    name: str
    kind: str
    unit: str
    insurance_class: str
    price: int  # fen
    valid_from: dt.date
    valid_to: dt.date | None


RowResult = tuple[T | None, list[Problem]]


def village_row(cells: Mapping[str, str | None]) -> RowResult[VillageRow]:
    c = _Cells(cells)
    code = c.matching("code", _VILLAGE, "a 12-digit division code")
    name = c.text("name", 60)
    kind = c.choice("kind", VILLAGE_KINDS)
    town_code = c.matching("town_code", _TOWN, "a 9-digit town code")
    town_name = c.text("town_name", 60)
    district_code = c.matching("district_code", _DISTRICT, "a 6-digit district code")
    district_name = c.text("district_name", 60)
    # Division codes nest: district (6) ⊂ town (9) ⊂ village (12).  A mismatch
    # is almost always two columns swapped in the spreadsheet.
    if town_code and district_code and not town_code.startswith(district_code):
        c.problem("town_code", f"does not belong to district {district_code}")
    if code and town_code and not code.startswith(town_code):
        c.problem("code", f"does not belong to town {town_code}")
    if c.problems:
        return None, c.problems
    assert code and name and kind and town_code and town_name and district_code and district_name
    return VillageRow(code, name, kind, town_code, town_name, district_code, district_name), []


def clinic_row(cells: Mapping[str, str | None]) -> RowResult[ClinicRow]:
    c = _Cells(cells)
    code = c.matching("code", _CODE, "letters and digits")
    if code and len(code) > 20:
        c.problem("code", "is longer than 20 characters")
    name = c.text("name", 80)
    village_code = c.matching("village_code", _VILLAGE, "a 12-digit division code")
    insurance_code = c.text("insurance_code", 30, required=False)
    joined_on = c.date("joined_on")
    left_on = c.date("left_on")
    if left_on is not None and cells.get("joined_on") is None:
        c.problem("left_on", "needs joined_on: a clinic cannot leave before joining")
    elif left_on is not None and joined_on is not None and left_on <= joined_on:
        # In the programme while joined_on ≤ d < left_on: equal dates mean never.
        c.problem("left_on", f"must be after joined_on {joined_on.isoformat()}")
    if c.problems:
        return None, c.problems
    assert code and name and village_code
    return ClinicRow(code, name, village_code, insurance_code, joined_on, left_on), []


def resident_row(cells: Mapping[str, str | None]) -> RowResult[ResidentRow]:
    c = _Cells(cells)
    ident = None
    raw = cells.get("id_number")
    if raw is None:
        c.problem("id_number", "is required")
    else:
        try:
            ident = parse_id_number(raw)
        except InvalidInput as exc:
            c.problems.extend(exc.problems)
    name = c.text("name", 60)
    village_code = c.matching("hukou_village_code", _VILLAGE, "a 12-digit division code")
    insurance_type = c.choice("insurance_type", INSURANCE_TYPES)
    insured_from = c.date("insured_from")
    insured_to = c.date("insured_to")
    c.ordered("insured_to", insured_from, insured_to)
    if insurance_type in ("resident", "employee") and cells.get("insured_from") is None:
        # The enrolment is active from insured_from; without it it never is.
        c.problem("insured_from", f"is required for insurance_type {insurance_type}")
    if insurance_type == "none":
        for field in ("insured_from", "insured_to"):
            if cells.get(field) is not None:
                c.problem(field, "must be empty when insurance_type is none")
    if c.problems:
        return None, c.problems
    assert ident and name and village_code and insurance_type
    return (
        ResidentRow(
            id_number=ident.value,
            name=name,
            sex=ident.sex,
            birth_date=ident.birth_date,
            hukou_village_code=village_code,
            insurance_type=insurance_type,
            insured_from=insured_from,
            insured_to=insured_to,
        ),
        [],
    )


def catalog_row(cells: Mapping[str, str | None]) -> RowResult[CatalogRow]:
    c = _Cells(cells)
    code = c.matching("code", _CODE, "letters and digits")
    if code and len(code) > 30:
        c.problem("code", "is longer than 30 characters")
    name = c.text("name", 100)
    kind = c.choice("kind", ITEM_KINDS)
    unit = c.text("unit", 20)
    insurance_class = c.choice("insurance_class", INSURANCE_CLASSES)
    price = None
    raw_price = cells.get("price")
    if raw_price is None:
        c.problem("price", "is required (yuan, e.g. 12.50)")
    else:
        try:
            price = parse_yuan(raw_price)
        except MoneyFormatError as exc:
            c.problem("price", str(exc))
    valid_from = c.date("valid_from", required=True)
    valid_to = c.date("valid_to")
    c.ordered("valid_to", valid_from, valid_to)
    if c.problems:
        return None, c.problems
    assert code and name and kind and unit and insurance_class and price is not None
    assert valid_from is not None
    return CatalogRow(code, name, kind, unit, insurance_class, price, valid_from, valid_to), []


# --- whole files ---------------------------------------------------------------


def read_rows(
    rows: Iterable[CsvRow], read: Callable[[Mapping[str, str | None]], RowResult[T]]
) -> tuple[list[Lined[T]], list[RowProblem]]:
    values: list[Lined[T]] = []
    problems: list[RowProblem] = []
    for row in rows:
        value, row_problems = read(row.cells)
        problems.extend(RowProblem(row.line, p.field, p.message) for p in row_problems)
        if value is not None:
            values.append(Lined(row.line, value))
    return values, problems


def duplicate_problems(
    rows: Iterable[Lined[T]], key: Callable[[T], object], field: str, what: str
) -> list[RowProblem]:
    """A key may appear once per file: the second occurrence names the first."""
    first: dict[object, int] = {}
    problems: list[RowProblem] = []
    for row in rows:
        k = key(row.value)
        if k in first:
            problems.append(RowProblem(row.line, field, f"{what} repeats line {first[k]}"))
        else:
            first[k] = row.line
    return problems


def village_file_problems(rows: list[Lined[VillageRow]]) -> list[RowProblem]:
    """Duplicate villages; a town or district named two ways in one file."""
    problems = duplicate_problems(rows, lambda v: v.code, "code", "village code")
    towns: dict[str, Lined[VillageRow]] = {}
    districts: dict[str, Lined[VillageRow]] = {}
    for row in rows:
        v = row.value
        town = towns.setdefault(v.town_code, row)
        if (town.value.town_name, town.value.district_code) != (v.town_name, v.district_code):
            problems.append(
                RowProblem(
                    row.line, "town_name", f"town {v.town_code} differs from line {town.line}"
                )
            )
        district = districts.setdefault(v.district_code, row)
        if district.value.district_name != v.district_name:
            problems.append(
                RowProblem(
                    row.line,
                    "district_name",
                    f"district {v.district_code} is named differently on line {district.line}",
                )
            )
    return problems


def reference_problems(
    rows: Iterable[Lined[T]],
    key: Callable[[T], str],
    known: Collection[str],
    field: str,
    what: str,
) -> list[RowProblem]:
    """Rows that name a ``what`` the database does not have."""
    return [
        RowProblem(row.line, field, f"unknown {what} {key(row.value)}")
        for row in rows
        if key(row.value) not in known
    ]


Period = tuple[dt.date, dt.date | None]


def overlapping(periods: list[Period]) -> tuple[Period, Period] | None:
    """The first two periods (inclusive, None = open) that share a day, or None."""
    ordered = sorted(periods, key=lambda p: p[0])
    for earlier, later in itertools.pairwise(ordered):
        if earlier[1] is None or later[0] <= earlier[1]:
            return earlier, later
    return None


def _period_text(period: Period) -> str:
    return f"{period[0].isoformat()}..{period[1].isoformat() if period[1] else 'open'}"


def catalog_file_problems(
    rows: list[Lined[CatalogRow]], existing_periods: Mapping[str, list[Period]]
) -> list[RowProblem]:
    """One row per (item, valid_from); an item described one way; no overlapping prices.

    ``existing_periods`` are the catalogue's price periods per item code; a
    file row with the same ``valid_from`` replaces its period.
    """
    problems = duplicate_problems(
        rows, lambda r: (r.code, r.valid_from), "valid_from", "price period of the item"
    )
    by_item: dict[str, list[Lined[CatalogRow]]] = {}
    for row in rows:
        by_item.setdefault(row.value.code, []).append(row)
    for code, item_rows in by_item.items():
        first = item_rows[0]
        described = (first.value.name, first.value.kind, first.value.unit)
        for row in item_rows[1:]:
            r = row.value
            if (r.name, r.kind, r.unit) != described:
                problems.append(
                    RowProblem(
                        row.line,
                        "name",
                        f"item {code} is described differently on line {first.line}",
                    )
                )
            if r.insurance_class != first.value.insurance_class:
                problems.append(
                    RowProblem(
                        row.line,
                        "insurance_class",
                        f"item {code} has class {first.value.insurance_class} on line {first.line}",
                    )
                )
        file_periods = {
            r.value.valid_from: (r.value.valid_from, r.value.valid_to) for r in item_rows
        }
        lines = {r.value.valid_from: r.line for r in item_rows}
        kept = [p for p in existing_periods.get(code, []) if p[0] not in file_periods]
        clash = overlapping([*kept, *file_periods.values()])
        if clash:
            earlier, later = clash
            line = lines.get(later[0]) or lines.get(earlier[0]) or first.line
            where = (
                f"line {lines[earlier[0]]}" if earlier[0] in lines else "already in the catalogue"
            )
            problems.append(
                RowProblem(
                    line,
                    "valid_from",
                    f"price period {_period_text(later)} of item {code} overlaps "
                    f"{_period_text(earlier)} ({where}); close the earlier period with valid_to",
                )
            )
    return problems
