"""The shape of the bureau's CSV files: decoding, the header, one schema per kind.

Guarantees:

* a file is read as UTF-8 with or without a byte-order mark; bytes that are
  not UTF-8 are reported at the line where they start;
* the header must name exactly the columns of its kind's schema, in any order
  (a missing, unknown or repeated column is a problem at line 1), except the
  kind's optional columns (:data:`OPTIONAL`), which a file may leave out — an
  older catalogue without the checks' columns still imports, and a column
  left out is absent from every row (the importer then keeps what is stored);
* every row crosses into the application only through its kind's schema
  (:class:`~app.fields.StrictSchema`, so an unknown column is an error too):
  cells are stripped, an empty cell is none, names and codes are
  :class:`~app.fields.Text`, prices :class:`~app.fields.Yuan`, dates ISO
  ``YYYY-MM-DD``; every cell that does not load is reported as
  ``FILE:LINE: field: message``, not just the first;
* rows are produced one at a time, as the file is read: the file is never
  held as parsed cells and as loaded rows at once, and :func:`decode_lines`
  reads it from a binary stream a line at a time, so it is never held whole.

Shape only: what a row means (an ID number's check digit, codes that nest,
price periods that must not overlap) is :mod:`app.imports.rules`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from app.catalog.rules import DIAGNOSIS_SYSTEMS, FEE_CLASSES
from app.errors import Problem
from app.fields import Quantity, StrictSchema, Text, Yuan, field_problems
from app.imports.rules import (
    INSURANCE_CLASSES,
    INSURANCE_TYPES,
    ITEM_KINDS,
    OLD_ITEM_KINDS,
    VILLAGE_KINDS,
    RowProblem,
)
from app.money import MoneyFormatError, exact_int, parse_ratio
from app.policy.models import RATIO_SCALE

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REQUIRED: dict[str, Any] = {"required": "is required"}


class IsoDate(fields.Date):
    """``2026-01-31`` exactly: not ``2026/01/31``, ``2026-1-31`` or ``20260131``."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": "must be a date like 2026-01-31, not {input!r}",
        "required": "is required (a date like 2026-01-31)",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise self.make_error("invalid", input=value)
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # 2016-02-30
            raise self.make_error("invalid", input=value) from None


def _pattern(pattern: str, what: str) -> validate.Regexp:
    return validate.Regexp(pattern, error=f"must be {what}, not {{input!r}}")


def _longest(n: int) -> validate.Length:
    return validate.Length(max=n, error="is longer than {max} characters")


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error="must be one of {choices}, not {input!r}")


def _code(what: str, pattern: str, *, max_len: int | None = None) -> Text:
    rules: list[validate.Validator] = [_pattern(pattern, what)]
    if max_len is not None:
        rules.append(_longest(max_len))
    return Text(required=True, validate=rules, error_messages=REQUIRED)


def _name(max_len: int) -> Text:
    return Text(required=True, validate=_longest(max_len), error_messages=REQUIRED)


def _choice(choices: tuple[str, ...], old: tuple[str, ...] = ()) -> Text:
    """One of ``choices`` (or an ``old`` word the rules translate, not offered in messages)."""
    one_of = _one_of(choices)

    def known(value: str) -> None:
        if value not in old:
            one_of(value)

    return Text(
        required=True,
        validate=known,
        error_messages={"required": f"is required (one of {', '.join(choices)})"},
    )


_DISTRICT = r"^\d{6}$"
_TOWN = r"^\d{9}$"
_VILLAGE = r"^\d{12}$"
# Clinic and item codes are typed by doctors at the terminal: letters, digits, - and _.
_LOCAL_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"


def _village_code() -> Text:
    return _code("a 12-digit division code", _VILLAGE)


class VillageSchema(StrictSchema):
    code = _village_code()
    name = _name(60)
    kind = _choice(VILLAGE_KINDS)
    town_code = _code("a 9-digit town code", _TOWN)
    town_name = _name(60)
    district_code = _code("a 6-digit district code", _DISTRICT)
    district_name = _name(60)


class ClinicSchema(StrictSchema):
    code = _code("letters and digits", _LOCAL_CODE, max_len=20)
    name = _name(80)
    village_code = _village_code()
    insurance_code = Text(load_default=None, validate=_longest(30))
    joined_on = IsoDate(load_default=None)
    left_on = IsoDate(load_default=None)


class ResidentSchema(StrictSchema):
    # The check digit and the birth date inside it are meaning: app.imports.rules.
    id_number = Text(required=True, error_messages=REQUIRED)
    name = _name(60)
    hukou_village_code = _village_code()
    insurance_type = _choice(INSURANCE_TYPES)
    insured_from = IsoDate(load_default=None)
    insured_to = IsoDate(load_default=None)
    # Optional column (see OPTIONAL): a file without it keeps the stored date of death.
    died_on = IsoDate()


class DeathSchema(StrictSchema):
    """The civil-affairs list of deaths: one resident and his date of death a row."""

    id_number = Text(required=True, error_messages=REQUIRED)
    died_on = IsoDate(required=True)


class DeliverySchema(StrictSchema):
    """One line of a clinic's centralised-procurement delivery list (集中采购配送单)."""

    clinic = _code("letters and digits", _LOCAL_CODE, max_len=20)
    date = IsoDate(required=True)
    # The clinic's catalogue code; the national code (医保目录编码) is kept beside it.
    item = _code("letters and digits", _LOCAL_CODE, max_len=30)
    national_code = Text(validate=_longest(50))
    batch_number = _name(40)
    expiry = IsoDate(required=True)
    quantity = Quantity(
        required=True,
        validate=validate.Range(min=1, error="must be more than 0"),
        error_messages=REQUIRED,
    )
    price = Yuan(required=True, error_messages={"required": "is required (yuan, e.g. 0.35)"})
    supplier = _name(100)
    approval_number = _name(60)


class CsvBoolean(fields.Field):
    """``true`` or ``false`` in a cell (any case); nothing else."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": "must be true or false, not {input!r}"
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        text = str(value).lower()
        if text not in ("true", "false"):
            raise self.make_error("invalid", input=value)
        return text == "true"


class CsvRatio(fields.Field):
    """A share from 0 to 1 with at most four decimals (``0.05``), as ten-thousandths."""

    default_error_messages = {"format": "{reason}"}  # noqa: RUF012 (marshmallow's convention)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return exact_int(parse_ratio(str(value)) * RATIO_SCALE)
        except MoneyFormatError as exc:
            raise self.make_error("format", reason=str(exc)) from exc


# A national catalogue code: 医保药品 codes such as XJ01CAA040A001010100483, service codes
# such as 001102000010000-110200001 (letters, digits, and . - _ between them).
_NATIONAL_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def _age() -> fields.Integer:
    return fields.Integer(
        strict=False,
        validate=validate.Range(0, 150, error="must be an age from 0 to 150"),
        error_messages={"invalid": "must be a whole number of years"},
    )


class CatalogSchema(StrictSchema):
    code = _code("letters and digits", _LOCAL_CODE, max_len=30)
    name = _name(100)
    kind = _choice(ITEM_KINDS, old=tuple(OLD_ITEM_KINDS))
    unit = _name(20)
    insurance_class = _choice(INSURANCE_CLASSES)
    price = Yuan(required=True, error_messages={"required": "is required (yuan, e.g. 12.50)"})
    valid_from = IsoDate(required=True)
    valid_to = IsoDate(load_default=None)
    # Optional columns for the checks at recording (app.oversight); no load_default:
    # a column the file leaves out stays absent (see OPTIONAL).
    max_per_visit = Quantity(validate=validate.Range(min=1, error="must be more than 0"))
    units_per_day = Quantity(validate=validate.Range(min=1, error="must be more than 0"))
    injectable = CsvBoolean()
    sex = Text(validate=_one_of(("M", "F")))
    min_age = _age()
    max_age = _age()
    # Diagnosis code prefixes the item is indicated for, space- or comma-separated.
    indications = Text(
        validate=[
            _pattern(r"^[A-Za-z0-9. ,]+$", "diagnosis code prefixes such as J06 J20"),
            _longest(200),
        ]
    )
    # Optional columns of the national catalogue (SPEC §2.1), per price row.
    national_code = Text(
        validate=[_pattern(_NATIONAL_CODE, "a national catalogue code"), _longest(50)]
    )
    fee_class = Text(validate=_one_of(tuple(FEE_CLASSES)))
    selfpay_ratio = CsvRatio()
    price_ceiling = Yuan()


# A diagnosis code as the national lists print them: J06.900, I10.x00, A01.000+G01*.
_DIAGNOSIS_CODE = r"^[A-Za-z0-9][A-Za-z0-9.+*/:-]*$"


class DiagnosisSchema(StrictSchema):
    code = _code("a diagnosis code such as J06.900", _DIAGNOSIS_CODE, max_len=20)
    name = _name(100)
    system = _choice(DIAGNOSIS_SYSTEMS)
    valid_from = IsoDate(required=True)
    valid_to = IsoDate(load_default=None)


SCHEMAS: dict[str, Schema] = {
    "villages": VillageSchema(),
    "clinics": ClinicSchema(),
    "residents": ResidentSchema(),
    "catalog": CatalogSchema(),
    "deaths": DeathSchema(),
    "deliveries": DeliverySchema(),
    "diagnoses": DiagnosisSchema(),
}
KINDS = tuple(SCHEMAS)
# Columns a file may leave out of its header (after the required ones in its schema).
OPTIONAL: dict[str, tuple[str, ...]] = {
    "residents": ("died_on",),
    "deliveries": ("national_code",),
    "catalog": (
        *("max_per_visit", "units_per_day", "injectable", "sex", "min_age", "max_age"),
        "indications",
        *("national_code", "fee_class", "selfpay_ratio", "price_ceiling"),
    ),
}
# The required columns of each kind: its schema's fields, in the order SPEC §1 lists them.
COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(name for name in s.fields if name not in OPTIONAL.get(kind, ()))
    for kind, s in SCHEMAS.items()
}


# --- decoding and the header -------------------------------------------------


def decode(data: bytes) -> tuple[str | None, list[RowProblem]]:
    """UTF-8 text without its BOM, or the line where the bytes stop being UTF-8."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [RowProblem(line, "file", NOT_UTF8)]


NOT_UTF8 = "is not UTF-8 text (save the spreadsheet as CSV UTF-8)"
_BOM = b"\xef\xbb\xbf"
# io.StringIO(newline="") ends a line at a lone CR too; so do we.
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


class NotUtf8(ValueError):
    """The bytes of physical line ``line`` are not UTF-8."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def decode_lines(raw_lines: Iterable[bytes]) -> Iterator[str]:
    """A binary file's lines (split at LF, as ``for raw in file`` does) as text.

    The BOM is dropped; line endings are kept for the CSV reader.  Bytes that
    are not UTF-8 raise :class:`NotUtf8` with the line they are on, when the
    reading reaches them.
    """
    for number, raw in enumerate(raw_lines, 1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NotUtf8(number) from None
        if "\r" in text[:-2]:
            yield from (piece for piece in _LONE_CR.split(text) if piece)
        else:
            yield text


@dataclass(frozen=True)
class CsvRow:
    line: int
    cells: dict[str, str | None]  # stripped; an empty cell is None


def csv_rows(
    text: str | Iterable[str], columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[CsvRow | RowProblem]:
    """Rows keyed by column, blank lines skipped, as they are read; or the problems.

    ``text`` is the decoded file, or its lines from :func:`decode_lines`.
    Header problems end the file (nothing below it can be read by name); a row
    with the wrong number of cells is a problem and reading goes on; bytes that
    are not UTF-8 are a problem at their line and end the file.
    """
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text)
    try:
        header = next(reader)
    except NotUtf8 as exc:
        yield RowProblem(exc.line, "file", NOT_UTF8)
        return
    except StopIteration:
        yield RowProblem(1, "header", f"the file is empty; expected {','.join(columns)}")
        return
    except csv.Error as exc:
        yield RowProblem(1, "header", f"not valid CSV: {exc}")
        return
    names = [h.strip() for h in header]
    missing = [c for c in columns if c not in names]
    unknown = [n for n in names if n not in columns and n not in optional]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    header_problems = [
        RowProblem(1, "header", f"{what} column(s) {', '.join(which)}")
        for what, which in (("missing", missing), ("unknown", unknown), ("repeated", duplicated))
        if which
    ]
    if header_problems:
        yield from header_problems
        return

    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except NotUtf8 as exc:
            yield RowProblem(exc.line, "file", NOT_UTF8)
            return
        except csv.Error as exc:
            yield RowProblem(reader.line_num, "row", f"not valid CSV: {exc}")
            return
        start, line = line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            yield RowProblem(start, "row", f"has {len(cells)} cells, the header has {len(names)}")
            continue
        yield CsvRow(start, {n: (c.strip() or None) for n, c in zip(names, cells, strict=True)})


# --- rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedRow:
    """One line of the file after its schema.

    ``values`` holds the cells that loaded (an empty cell as None; a cell that
    failed is absent, and its problem is in ``problems``); it is None when the
    line could not be read as a row at all (the header, a wrong cell count).
    """

    line: int
    values: dict[str, Any] | None
    problems: list[RowProblem]


def load_cells(
    schema: Schema, cells: Mapping[str, str | None]
) -> tuple[dict[str, Any], list[Problem]]:
    """The loaded values (partial on failure) and a problem per failing cell, in column order."""
    # An empty cell is absent: a required field says "is required", an optional one is None.
    present = {name: value for name, value in cells.items() if value is not None}
    try:
        return schema.load(present), []
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid, field_problems(exc, schema)


def load_rows(text: str | Iterable[str], kind: str) -> Iterator[LoadedRow]:
    """Each line of a decoded file of ``kind`` (or its decoded lines) through its schema."""
    schema = SCHEMAS[kind]
    optional = OPTIONAL.get(kind, ())
    for item in csv_rows(text, COLUMNS[kind], optional):
        if isinstance(item, RowProblem):
            yield LoadedRow(item.line, None, [item])
            continue
        values, problems = load_cells(schema, item.cells)
        failed = {p.field for p in problems}
        for name in optional:
            # An empty cell of a column the file has means "none" (clears it).
            if name in item.cells and name not in values and name not in failed:
                values[name] = None
        yield LoadedRow(
            item.line, values, [RowProblem(item.line, p.field, p.message) for p in problems]
        )
