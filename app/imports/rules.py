"""What the bureau's CSV rows mean: checks across a row's cells and across a file.

Guarantees:

* a row that its schema (:mod:`app.imports.schemas`) loaded becomes a typed,
  normalised value (an ID number with ``X`` upper-cased and sex and birth
  date derived from it) only when every check here passes;
* every problem is reported, not just the first, each as a
  :class:`RowProblem` (line, field, message) that prints as
  ``FILE:LINE: field: message``;
* file-wide rules: a key appears once per file (a price period once per
  item), and an item's price periods never overlap, counting the periods
  already in the catalogue.

The row checks take a row as its schema loaded it, which may be partial (a
cell that did not load is absent): each check runs when the cells it needs
are there, so a file's problems are all found in one pass.  Pure validators:
no Flask, no SQLAlchemy, no clock, no file system.  The caller passes what it
knows of the database (known village codes, existing price periods).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.errors import InvalidInput, Problem, ProblemCode
from app.people.rules import parse_id_number

T = TypeVar("T")

VILLAGE_KINDS = ("village", "community")
INSURANCE_TYPES = ("resident", "employee", "none")
ITEM_KINDS = ("consultation", "drug", "service", "material")
# Words older files use for a kind: the general consultation fee (一般诊疗费) was
# kind ``diagnosis`` until diagnoses proper arrived (SPEC §2).  Read as the new
# word, and the import's summary says how many rows were.
OLD_ITEM_KINDS = {"diagnosis": "consultation"}
INSURANCE_CLASSES = ("A", "B", "C")


@dataclass(frozen=True, order=True)
class RowProblem:
    """One problem at one line of a file (line 1 is the header)."""

    line: int
    field: str
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Lined(Generic[T]):
    """A valid row's value and the line it came from."""

    line: int
    value: T


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
    # The optional columns the file has: name → value (None clears it); absent: kept.
    optional: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeathRow:
    id_number: str
    died_on: dt.date


@dataclass(frozen=True)
class DeliveryRow:
    clinic: str
    date: dt.date
    item: str
    national_code: str | None
    batch_number: str
    expiry: dt.date
    quantity: int  # thousandths of the catalogue's unit
    price: int  # fen per unit
    supplier: str
    approval_number: str

    @property
    def key(self) -> tuple[str, str, str, dt.date]:
        return (self.clinic, self.item, self.batch_number, self.date)


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
    # The checks' columns the file has (app.oversight): name → value (None clears it).
    checks: Mapping[str, Any] = field(default_factory=dict)
    # The national catalogue's columns the file has (SPEC §2.1), of this price
    # row: name → value (None clears it; a ratio in ten-thousandths, a ceiling in fen).
    national: Mapping[str, Any] = field(default_factory=dict)
    # The file's own word for ``kind`` when it was an old one (OLD_ITEM_KINDS).
    old_kind: str | None = None


@dataclass(frozen=True)
class DiagnosisRow:
    code: str
    name: str
    system: str
    valid_from: dt.date
    valid_to: dt.date | None


CHECK_COLUMNS = (
    *("max_per_visit", "units_per_day", "injectable", "sex", "min_age", "max_age"),
    "indications",
)
NATIONAL_COLUMNS = ("national_code", "fee_class", "selfpay_ratio", "price_ceiling")

RowResult = tuple[T | None, list[Problem]]
Loaded = Mapping[str, Any]  # a row as its schema loaded it: failed cells absent, empty ones None


def _complete(row: Loaded, names: Iterable[str]) -> bool:
    return all(name in row for name in names)


def _ordered(problems: list[Problem], field: str, start: Any, end: Any) -> None:
    """``end`` (inclusive) on or after ``start``; the problem goes on the later field."""
    if start is not None and end is not None and end < start:
        problems.append(
            Problem(field, f"must not be before {start.isoformat()}", ProblemCode.DATE_ORDER)
        )


def village_row(row: Loaded) -> RowResult[VillageRow]:
    problems: list[Problem] = []
    code, town_code, district_code = row.get("code"), row.get("town_code"), row.get("district_code")
    # Division codes nest: district (6) ⊂ town (9) ⊂ village (12).  A mismatch
    # is almost always two columns swapped in the spreadsheet.
    if town_code and district_code and not town_code.startswith(district_code):
        problems.append(
            Problem(
                "town_code",
                f"does not belong to district {district_code}",
                ProblemCode.PLACE_MISMATCH,
            )
        )
    if code and town_code and not code.startswith(town_code):
        problems.append(
            Problem("code", f"does not belong to town {town_code}", ProblemCode.PLACE_MISMATCH)
        )
    names = VillageRow.__dataclass_fields__
    if problems or not _complete(row, names):
        return None, problems
    return VillageRow(**{name: row[name] for name in names}), []


def clinic_row(row: Loaded) -> RowResult[ClinicRow]:
    problems: list[Problem] = []
    joined_on, left_on = row.get("joined_on"), row.get("left_on")
    if left_on is not None and "joined_on" in row and joined_on is None:
        problems.append(
            Problem(
                "left_on",
                "needs joined_on: a clinic cannot leave before joining",
                ProblemCode.DATE_ORDER,
            )
        )
    elif left_on is not None and joined_on is not None and left_on <= joined_on:
        # In the programme while joined_on ≤ d < left_on: equal dates mean never.
        problems.append(
            Problem(
                "left_on",
                f"must be after joined_on {joined_on.isoformat()}",
                ProblemCode.DATE_ORDER,
            )
        )
    names = ClinicRow.__dataclass_fields__
    if problems or not _complete(row, names):
        return None, problems
    return ClinicRow(**{name: row[name] for name in names}), []


def resident_row(row: Loaded) -> RowResult[ResidentRow]:
    problems: list[Problem] = []
    ident = None
    if row.get("id_number") is not None:
        try:
            ident = parse_id_number(row["id_number"])
        except InvalidInput as exc:
            problems.extend(exc.problems)
    insurance_type = row.get("insurance_type")
    _ordered(problems, "insured_to", row.get("insured_from"), row.get("insured_to"))
    if insurance_type in ("resident", "employee") and (
        "insured_from" in row and row["insured_from"] is None
    ):
        # The enrolment is active from insured_from; without it it never is.
        problems.append(
            Problem(
                "insured_from",
                f"is required for insurance_type {insurance_type}",
                ProblemCode.REQUIRED,
            )
        )
    if insurance_type == "none":
        for field in ("insured_from", "insured_to"):
            if row.get(field) is not None:
                problems.append(
                    Problem(
                        field,
                        "must be empty when insurance_type is none",
                        ProblemCode.MUST_BE_EMPTY,
                    )
                )
    died_on = row.get("died_on")
    if ident is not None and died_on is not None and died_on < ident.birth_date:
        problems.append(
            Problem("died_on", _before_birth(ident.birth_date), ProblemCode.DIED_BEFORE_BIRTH)
        )
    names = ("name", "hukou_village_code", "insurance_type", "insured_from", "insured_to")
    if problems or ident is None or not _complete(row, names):
        return None, problems
    return ResidentRow(
        id_number=ident.value,
        sex=ident.sex,
        birth_date=ident.birth_date,
        **{name: row[name] for name in names},
        optional={"died_on": died_on} if "died_on" in row else {},
    ), []


def _before_birth(birth: dt.date) -> str:
    return f"must not be before the birth date {birth.isoformat()} in the ID number"


def death_row(row: Loaded) -> RowResult[DeathRow]:
    """A death: a valid ID number and a date of death not before its birth date."""
    problems: list[Problem] = []
    ident = None
    if row.get("id_number") is not None:
        try:
            ident = parse_id_number(row["id_number"])
        except InvalidInput as exc:
            problems.extend(exc.problems)
    died_on = row.get("died_on")
    if ident is not None and died_on is not None and died_on < ident.birth_date:
        problems.append(
            Problem("died_on", _before_birth(ident.birth_date), ProblemCode.DIED_BEFORE_BIRTH)
        )
    if problems or ident is None or died_on is None:
        return None, problems
    return DeathRow(ident.value, died_on), []


def delivery_row(row: Loaded) -> RowResult[DeliveryRow]:
    """A delivery whose batch had not expired when it arrived."""
    problems: list[Problem] = []
    day, expiry = row.get("date"), row.get("expiry")
    if day is not None and expiry is not None and expiry < day:
        problems.append(
            Problem(
                "expiry", f"is before the delivery date {day.isoformat()}", ProblemCode.DATE_ORDER
            )
        )
    names = [n for n in DeliveryRow.__dataclass_fields__ if n != "national_code"]
    if problems or not _complete(row, names):
        return None, problems
    return DeliveryRow(
        **{name: row[name] for name in names}, national_code=row.get("national_code")
    ), []


def catalog_row(row: Loaded) -> RowResult[CatalogRow]:
    problems: list[Problem] = []
    _ordered(problems, "valid_to", row.get("valid_from"), row.get("valid_to"))
    low, high = row.get("min_age"), row.get("max_age")
    if low is not None and high is not None and high < low:
        problems.append(
            Problem("max_age", f"must not be below min_age {low}", ProblemCode.AGE_RANGE)
        )
    names = [name for name in CatalogRow.__dataclass_fields__ if name not in _CATALOG_EXTRAS]
    if problems or not _complete(row, names):
        return None, problems
    checks = {name: row[name] for name in CHECK_COLUMNS if name in row}
    national = {name: row[name] for name in NATIONAL_COLUMNS if name in row}
    values = {name: row[name] for name in names}
    old_kind = values["kind"] if values["kind"] in OLD_ITEM_KINDS else None
    if old_kind is not None:
        values["kind"] = OLD_ITEM_KINDS[old_kind]
    return CatalogRow(**values, checks=checks, national=national, old_kind=old_kind), []


_CATALOG_EXTRAS = ("checks", "national", "old_kind")


def diagnosis_row(row: Loaded) -> RowResult[DiagnosisRow]:
    problems: list[Problem] = []
    _ordered(problems, "valid_to", row.get("valid_from"), row.get("valid_to"))
    names = DiagnosisRow.__dataclass_fields__
    if problems or not _complete(row, names):
        return None, problems
    return DiagnosisRow(**{name: row[name] for name in names}), []


# --- whole files ---------------------------------------------------------------


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
