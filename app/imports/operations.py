"""Bulk import of the bureau's reference data: villages, clinics, residents, catalogue,
the national diagnosis lists.

Guarantees, for every file:

* all or nothing: every row goes through its kind's schema
  (:mod:`app.imports.schemas`), then the rules (:mod:`app.imports.rules`),
  inside one :func:`~app.database.unit_of_work`; any problem (a bad cell, a
  repeated key, an unknown village, an overlapping price period) raises
  :class:`ImportRejected` listing every problem (the first
  :data:`PROBLEM_LIMIT` of a residents file), and nothing is written — rows
  already sent to the database in the transaction are rolled back with it;
* idempotent: a row equal to what the database holds is not written at all, so
  re-importing a file changes nothing; a changed row updates its record; a
  catalogue row with a new ``valid_from`` adds to the item's price history;
  nothing is ever deleted;
* the file is read from disk a line at a time and hashed as it streams (the
  audit entry names its SHA-256): it is never held whole;
* residents stream at any size, in memory that does not grow with the file:
  rows are checked and written :data:`BATCH` at a time, each batch compared
  with the register by one ``SELECT … WHERE id_number IN (batch)``, and a
  number repeated anywhere in the file is found through a temporary table of
  the numbers seen so far (and their lines), not a set in memory.  The other
  kinds (thousands of rows at most) are read whole, their keys already in the
  database read in one query per table;
* never a SELECT per row: inserts and updates go out as executemany batches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.orm import Session

from app.audit.operations import DIGESTED_TABLES, OPERATOR, audit_import, audit_table_digests
from app.catalog.models import CatalogItem, Diagnosis, ItemPrice
from app.catalog.rules import pinyin_initials
from app.database import unit_of_work
from app.errors import InvalidInput, Problem, ProblemCode
from app.imports.rules import (
    CHECK_COLUMNS,
    NATIONAL_COLUMNS,
    CatalogRow,
    Lined,
    Period,
    ResidentRow,
    RowProblem,
    RowResult,
    catalog_file_problems,
    catalog_row,
    clinic_row,
    death_row,
    delivery_row,
    diagnosis_row,
    duplicate_problems,
    reference_problems,
    resident_row,
    village_file_problems,
    village_row,
)
from app.imports.schemas import KINDS, LoadedRow, decode_lines, load_rows
from app.money import line_amount
from app.oversight.operations import list_visits_after_deaths
from app.people.models import Resident
from app.places.models import Clinic, District, Town, Village
from app.stock.models import StockDelivery
from app.stock.rules import STOCKED_KINDS

BATCH = 5000  # rows per executemany: bounded memory in the driver, few round trips
# A file with this many problems is rejected without reading on: the first
# thousand say what is wrong with it as well as all of them would.
PROBLEM_LIMIT = 1000


@dataclass
class ImportSummary:
    """What one file did: every row is exactly one of added, updated, unchanged."""

    source: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)
    now: dt.datetime | None = None
    # Dates of death set or changed by the file, by ID number (the visits after them
    # are put on the review worklist at the end of the import).
    deaths: dict[str, dt.date] = field(default_factory=dict)

    @property
    def when(self) -> dt.datetime:
        return self.now if self.now is not None else dt.datetime.now(dt.UTC)

    def count(self, status: str) -> None:
        self.rows += 1
        setattr(self, status, getattr(self, status) + 1)

    def __str__(self) -> str:
        text = (
            f"{self.source}: {self.rows} rows, {self.added} added, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )
        return f"{text} ({'; '.join(self.notes)})" if self.notes else text


class ImportRejected(InvalidInput):
    """The file has problems; nothing of it was written."""

    def __init__(self, source: str, problems: list[RowProblem]) -> None:
        self.source = source
        self.row_problems = sorted(problems, key=lambda p: p.line)  # stable: column order kept
        super().__init__(
            [
                Problem(f"{source}:{p.line}: {p.field}", p.message, ProblemCode.BAD_ROW)
                for p in self.row_problems
            ]
        )

    def lines(self) -> list[str]:
        return [p.format(self.source) for p in self.row_problems]


def import_file(
    kind: str, path: str | Path, *, source: str | None = None, now: dt.datetime | None = None
) -> ImportSummary:
    """Import one CSV file of ``kind``; ``source`` is the name used in messages."""
    source = source if source is not None else str(path)
    try:
        stream = Path(path).open("rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InvalidInput(
            Problem("file", f"{source}: {exc.strerror or exc}", ProblemCode.FILE_UNREADABLE)
        ) from None
    with stream:
        return import_stream(kind, stream, source=source, now=now)


def import_bytes(
    kind: str, data: bytes, *, source: str, now: dt.datetime | None = None
) -> ImportSummary:
    return import_stream(kind, io.BytesIO(data), source=source, now=now)


def import_stream(
    kind: str, stream: Iterable[bytes], *, source: str, now: dt.datetime | None = None
) -> ImportSummary:
    """Import a binary stream of ``kind`` (iterated as lines, like an open file).

    ``now`` times what the import writes besides the rows (the review worklist
    items a death puts visits on, their audit entries); None: the audit's own time.
    """
    if kind not in KINDS:
        raise InvalidInput(
            Problem("kind", f"must be one of {', '.join(KINDS)}", ProblemCode.UNKNOWN_KIND)
        )
    digest = _Digest()
    raw_lines = digest.lines(stream)
    summary = ImportSummary(source, now=now)
    with unit_of_work() as session:
        _IMPORTERS[kind](session, load_rows(decode_lines(raw_lines), kind), summary)
        for _ in raw_lines:  # the CSV reader read to the end; hash whatever it left
            pass
        audit_import(session, OPERATOR, kind, source, (digest.hexdigest(), digest.size), summary)
        # The tables as this import left them: verify holds them against it.
        audit_table_digests(session, OPERATOR, _DIGESTED.get(kind, DIGESTED_TABLES), None)
        if summary.deaths:
            # After the rows: a death listed puts the visits after it on a worklist.
            listed = list_visits_after_deaths(session, summary.deaths, OPERATOR, summary.when)
            summary.notes.append(f"visits on or after a death listed for review: {listed}")
    return summary


# The tables each kind of import writes (a kind not named here: all of them).
_DIGESTED: dict[str, tuple[str, ...]] = {
    "villages": ("village",),
    "clinics": ("clinic",),
    "residents": ("resident",),
    "catalog": ("catalog_item", "item_price"),
    "diagnoses": ("diagnosis",),
    "deaths": ("resident",),
}


class _Digest:
    """SHA-256 and length of a file, taken as its lines go by."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.size = 0

    def lines(self, stream: Iterable[bytes]) -> Iterator[bytes]:
        for raw in stream:
            self._sha.update(raw)
            self.size += len(raw)
            yield raw

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


T = TypeVar("T")


def _read(
    rows: Iterable[LoadedRow], meaning: Callable[[Mapping[str, Any]], RowResult[T]]
) -> tuple[list[Lined[T]], list[RowProblem]]:
    """The file's valid rows and every problem: its shape, then its meaning, line by line."""
    values: list[Lined[T]] = []
    problems: list[RowProblem] = []
    for row in rows:
        problems.extend(row.problems)
        if row.values is None:
            continue
        value, meant = meaning(row.values)
        problems.extend(RowProblem(row.line, p.field, p.message) for p in meant)
        if value is not None:
            values.append(Lined(row.line, value))
    return values, problems


# --- helpers -------------------------------------------------------------------


def _insert(session: Session, model: type, values: list[dict[str, Any]]) -> None:
    """Core executemany into the model's table.

    Not the ORM's bulk insert: on PostgreSQL that sent one INSERT per row here
    (20,000 round trips for 20,000 residents, 70 % of the import's time).
    """
    table = model.__table__  # type: ignore[attr-defined]
    for start in range(0, len(values), BATCH):
        session.execute(insert(table), values[start : start + BATCH])


def _update(session: Session, model: type, values: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key (each dict carries the key)."""
    for start in range(0, len(values), BATCH):
        session.execute(update(model), values[start : start + BATCH])


def _reject_if(source: str, problems: list[RowProblem]) -> None:
    if problems:
        raise ImportRejected(source, problems)


def _note(what: str, added: int, updated: int) -> str:
    return f"{what}: {added} added, {updated} updated"


# --- villages (with their towns and districts) ----------------------------------


def _import_villages(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    values, problems = _read(rows, village_row)
    problems += village_file_problems(values)
    _reject_if(summary.source, problems)

    districts = dict(session.execute(select(District.code, District.name)).all())
    towns = {
        code: (name, district)
        for code, name, district in session.execute(
            select(Town.code, Town.name, Town.district_code)
        )
    }
    villages = {
        code: (name, kind, town)
        for code, name, kind, town in session.execute(
            select(Village.code, Village.name, Village.kind, Village.town_code)
        )
    }

    new_districts: dict[str, dict[str, Any]] = {}
    changed_districts: dict[str, dict[str, Any]] = {}
    new_towns: dict[str, dict[str, Any]] = {}
    changed_towns: dict[str, dict[str, Any]] = {}
    new_villages: list[dict[str, Any]] = []
    changed_villages: list[dict[str, Any]] = []
    for row in values:
        v = row.value
        district = {"code": v.district_code, "name": v.district_name}
        if v.district_code not in districts:
            new_districts[v.district_code] = district
        elif districts[v.district_code] != v.district_name:
            changed_districts[v.district_code] = district
        town = {"code": v.town_code, "name": v.town_name, "district_code": v.district_code}
        if v.town_code not in towns:
            new_towns[v.town_code] = town
        elif towns[v.town_code] != (v.town_name, v.district_code):
            changed_towns[v.town_code] = town
        village = {"code": v.code, "name": v.name, "kind": v.kind, "town_code": v.town_code}
        if v.code not in villages:
            new_villages.append(village)
            summary.count("added")
        elif villages[v.code] != (v.name, v.kind, v.town_code):
            changed_villages.append(village)
            summary.count("updated")
        else:
            summary.count("unchanged")

    # Parents before children: the foreign keys are checked row by row.
    _insert(session, District, list(new_districts.values()))
    _update(session, District, list(changed_districts.values()))
    _insert(session, Town, list(new_towns.values()))
    _update(session, Town, list(changed_towns.values()))
    _insert(session, Village, new_villages)
    _update(session, Village, changed_villages)
    summary.notes = [
        _note("districts", len(new_districts), len(changed_districts)),
        _note("towns", len(new_towns), len(changed_towns)),
    ]


# --- clinics ---------------------------------------------------------------------


def _import_clinics(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    values, problems = _read(rows, clinic_row)
    known_villages = set(session.scalars(select(Village.code)))
    problems = [
        *problems,
        *duplicate_problems(values, lambda c: c.code, "code", "clinic code"),
        *reference_problems(
            values, lambda c: c.village_code, known_villages, "village_code", "village"
        ),
    ]
    _reject_if(summary.source, problems)

    existing = {
        code: (cid, rest)
        for cid, code, *rest in session.execute(
            select(
                Clinic.id,
                Clinic.code,
                Clinic.name,
                Clinic.village_code,
                Clinic.insurance_code,
                Clinic.joined_on,
                Clinic.left_on,
            )
        )
    }
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in values:
        c = row.value
        record = {
            "code": c.code,
            "name": c.name,
            "village_code": c.village_code,
            "insurance_code": c.insurance_code,
            "joined_on": c.joined_on,
            "left_on": c.left_on,
        }
        if c.code not in existing:
            new.append(record)
            summary.count("added")
            continue
        clinic_id, current = existing[c.code]
        if list(current) != [c.name, c.village_code, c.insurance_code, c.joined_on, c.left_on]:
            changed.append({"id": clinic_id, **record})
            summary.count("updated")
        else:
            summary.count("unchanged")
    _insert(session, Clinic, new)
    _update(session, Clinic, changed)


# --- residents -------------------------------------------------------------------


def _import_residents(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    """Check and write BATCH rows at a time; after the first problem, only check."""
    known_villages = set(session.scalars(select(Village.code)))  # bounded by villages, not rows
    seen = _SeenKeys(session)
    problems: list[RowProblem] = []
    for batch in _batches(rows, BATCH):
        values, found = _read(batch, resident_row)
        found += reference_problems(
            values, lambda r: r.hukou_village_code, known_villages, "hukou_village_code", "village"
        )
        # After normalisation: ...x and ...X are the same person.
        found += seen.repeats(
            [Lined(row.line, row.value.id_number) for row in values], "id_number", "ID number"
        )
        problems += found
        if len(problems) >= PROBLEM_LIMIT:
            # Every line up to the end of this batch has been checked: these are
            # the file's first problems, in line order.
            problems = sorted(problems, key=lambda p: p.line)[:PROBLEM_LIMIT]
            problems.append(
                RowProblem(
                    batch[-1].line,
                    "file",
                    f"stopped reading after {PROBLEM_LIMIT} problems; fix these and import again",
                )
            )
            break
        if not problems:  # the transaction is lost anyway once one problem is found
            _write_residents(session, values, summary)
    seen.drop()
    _reject_if(summary.source, problems)


def _write_residents(
    session: Session, values: list[Lined[ResidentRow]], summary: ImportSummary
) -> None:
    """One batch compared with the register rows of its numbers, then written."""
    numbers = [row.value.id_number for row in values]
    existing = {
        number: (rid, rest)
        for rid, number, *rest in session.execute(
            select(
                Resident.id,
                Resident.id_number,
                Resident.name,
                Resident.hukou_village_code,
                Resident.insurance_type,
                Resident.insured_from,
                Resident.insured_to,
                Resident.died_on,
            ).where(Resident.id_number.in_(numbers))
        )
    }
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in values:
        r = row.value
        record: dict[str, Any] = {
            "name": r.name,
            "hukou_village_code": r.hukou_village_code,
            "insurance_type": r.insurance_type,
            "insured_from": r.insured_from,
            "insured_to": r.insured_to,
        }
        # The date of death when the file has the column; without it the stored one stays.
        record.update(r.optional)
        died_on: dt.date | None = record.get("died_on")
        if r.id_number not in existing:
            new.append(
                {
                    "id_number": r.id_number,
                    "sex": r.sex,
                    "birth_date": r.birth_date,
                    "died_on": None,
                    **record,
                }
            )
            if died_on is not None:  # visits may name him before he was listed
                summary.deaths[r.id_number] = died_on
            summary.count("added")
            continue
        resident_id, current = existing[r.id_number]
        stored = dict(
            zip(
                ("name", "hukou_village_code", "insurance_type", "insured_from", "insured_to"),
                current[:5],
                strict=True,
            ),
            died_on=current[5],
        )
        if any(stored[k] != v for k, v in record.items()):
            changed.append({"id": resident_id, **record})
            summary.count("updated")
            if died_on is not None and died_on != stored["died_on"]:
                summary.deaths[r.id_number] = died_on
        else:
            summary.count("unchanged")
    _insert(session, Resident, new)
    _update(session, Resident, changed)


def _batches(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class _SeenKeys:
    """The keys of a file seen so far and the line each was first on, in the database.

    A temporary table (private to this connection, dropped at the end or with
    the transaction): a million 18-character numbers in a Python set would
    cost ~100 MB; here they cost one indexed INSERT and one SELECT per batch.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.table = Table(
            "import_seen_key",
            MetaData(),
            Column("key", String(40), primary_key=True),
            Column("line", Integer, nullable=False),
            prefixes=["TEMPORARY"],
        )
        connection = session.connection()
        self.table.drop(connection, checkfirst=True)  # left by a crash on this connection
        self.table.create(connection)

    def repeats(self, rows: list[Lined[str]], field: str, what: str) -> list[RowProblem]:
        """A key may appear once per file: each later occurrence names the first."""
        key, line = self.table.c.key, self.table.c.line
        keys = {row.value for row in rows}
        first: dict[str, int] = {
            k: n for k, n in self.session.execute(select(key, line).where(key.in_(keys)))
        }
        new: dict[str, int] = {}
        problems: list[RowProblem] = []
        for row in rows:
            earlier = first.get(row.value) or new.get(row.value)
            if earlier is not None:
                problems.append(RowProblem(row.line, field, f"{what} repeats line {earlier}"))
            else:
                new[row.value] = row.line
        if new:
            self.session.execute(
                insert(self.table), [{"key": k, "line": n} for k, n in new.items()]
            )
        return problems

    def drop(self) -> None:
        self.table.drop(self.session.connection())


# --- deaths (the civil-affairs list) -------------------------------------------------


def _import_deaths(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    """Dates of death of residents already in the register; an unknown number is a problem.

    A date already stored is unchanged; a new or different one updates the
    resident, and the visits on or after it are listed for review.
    """
    values, problems = _read(rows, death_row)
    problems += duplicate_problems(values, lambda d: d.id_number, "id_number", "ID number")
    stored: dict[str, tuple[int, dt.date | None]] = {}
    numbers = [row.value.id_number for row in values]
    for start in range(0, len(numbers), BATCH):
        stored.update(
            (number, (rid, died))
            for rid, number, died in session.execute(
                select(Resident.id, Resident.id_number, Resident.died_on).where(
                    Resident.id_number.in_(numbers[start : start + BATCH])
                )
            )
        )
    problems += [
        RowProblem(row.line, "id_number", "is not in the resident register")
        for row in values
        if row.value.id_number not in stored
    ]
    # The register's birth date is the ID number's: row rules already checked it.
    _reject_if(summary.source, problems)
    changed: list[dict[str, Any]] = []
    for row in values:
        resident_id, died_on = stored[row.value.id_number]
        if died_on == row.value.died_on:
            summary.count("unchanged")
            continue
        changed.append({"id": resident_id, "died_on": row.value.died_on})
        summary.deaths[row.value.id_number] = row.value.died_on
        summary.count("updated")
    _update(session, Resident, changed)


# --- drug deliveries (the stock area's purchases in) ------------------------------


_DELIVERY_FIELDS = (
    "national_code",
    "expiry",
    "quantity",
    "price",
    "amount",
    "supplier",
    "approval_number",
)


def _import_deliveries(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    """Each line keyed by clinic, item, batch and day: new lines add, changed ones update."""
    values, problems = _read(rows, delivery_row)
    clinics = dict(session.execute(select(Clinic.code, Clinic.id)).all())
    items = {
        code: (iid, kind)
        for code, iid, kind in session.execute(
            select(CatalogItem.code, CatalogItem.id, CatalogItem.kind)
        )
    }
    problems += duplicate_problems(values, lambda d: d.key, "batch_number", "delivery")
    problems += reference_problems(values, lambda d: d.clinic, clinics, "clinic", "clinic")
    problems += [
        RowProblem(row.line, "item", f"unknown catalogue item {row.value.item}")
        if row.value.item not in items
        else RowProblem(row.line, "item", f"{row.value.item} is not a drug or a material")
        for row in values
        if items.get(row.value.item, (0, ""))[1] not in STOCKED_KINDS
    ]
    _reject_if(summary.source, problems)
    existing = {
        (code, r.item_code, r.batch_number, r.delivered_on): r
        for code, r in session.execute(
            select(Clinic.code, StockDelivery).join(Clinic, Clinic.id == StockDelivery.clinic_id)
        )
    }
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in values:
        d = row.value
        record = {
            "national_code": d.national_code,
            "expiry": d.expiry,
            "quantity": d.quantity,
            "price": d.price,
            "amount": line_amount(d.price, d.quantity),
            "supplier": d.supplier,
            "approval_number": d.approval_number,
        }
        stored = existing.get(d.key)
        if stored is None:
            new.append(
                {
                    "clinic_id": clinics[d.clinic],
                    "delivered_on": d.date,
                    "item_id": items[d.item][0],
                    "item_code": d.item,
                    "batch_number": d.batch_number,
                    "imported_at": summary.when,
                    **record,
                }
            )
            summary.count("added")
        elif any(getattr(stored, name) != record[name] for name in _DELIVERY_FIELDS):
            changed.append({"id": stored.id, **record})
            summary.count("updated")
        else:
            summary.count("unchanged")
    _insert(session, StockDelivery, new)
    _update(session, StockDelivery, changed)


# --- catalogue -------------------------------------------------------------------


_DESCRIBED = ("name", "kind", "unit", "insurance_class", "pinyin")


def _import_catalog(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    values, problems = _read(rows, catalog_row)

    items = {
        code: (iid, rest)
        for iid, code, *rest in session.execute(
            select(
                CatalogItem.id,
                CatalogItem.code,
                CatalogItem.name,
                CatalogItem.kind,
                CatalogItem.unit,
                CatalogItem.insurance_class,
                CatalogItem.pinyin,
                *(getattr(CatalogItem, name) for name in CHECK_COLUMNS),
            )
        )
    }
    # (item, valid_from) → (price id, what the row holds: price, valid_to, national fields)
    prices: dict[tuple[str, dt.date], tuple[int, dict[str, Any]]] = {}
    periods: dict[str, list[Period]] = {}
    for code, price_id, valid_from, *stored in session.execute(
        select(
            CatalogItem.code,
            ItemPrice.id,
            ItemPrice.valid_from,
            ItemPrice.price,
            ItemPrice.valid_to,
            *(getattr(ItemPrice, name) for name in NATIONAL_COLUMNS),
        ).join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
    ):
        prices[(code, valid_from)] = (
            price_id,
            dict(zip(("price", "valid_to", *NATIONAL_COLUMNS), stored, strict=True)),
        )
        periods.setdefault(code, []).append((valid_from, stored[1]))

    problems += catalog_file_problems(values, periods)
    _reject_if(summary.source, problems)

    # Items first (the price rows need their ids); an item's rows agree on its
    # description, checked above, so the first row describes it.
    item_ids: dict[str, int] = {code: iid for code, (iid, _) in items.items()}
    stored_items = {
        code: dict(zip((*_DESCRIBED, *CHECK_COLUMNS), rest, strict=True))
        for code, (_, rest) in items.items()
    }
    item_status: dict[str, str] = {}
    new_items: list[CatalogItem] = []
    changed_items: list[dict[str, Any]] = []
    for row in values:
        c = row.value
        if c.code in item_status:
            continue
        described = [c.name, c.kind, c.unit, c.insurance_class, pinyin_initials(c.name)]
        record = dict(zip(_DESCRIBED, described, strict=True))
        # The checks' columns the file has; those it leaves out keep what is stored.
        record.update(c.checks)
        if c.code not in items:
            new_items.append(CatalogItem(code=c.code, **record))
            item_status[c.code] = "added"
        elif {k: v for k, v in stored_items[c.code].items() if k in record} != record:
            changed_items.append({"id": items[c.code][0], **record})
            item_status[c.code] = "updated"
        else:
            item_status[c.code] = "unchanged"
    session.add_all(new_items)
    session.flush()
    item_ids.update({item.code: item.id for item in new_items})
    _update(session, CatalogItem, changed_items)

    new_prices: list[dict[str, Any]] = []
    changed_prices: list[dict[str, Any]] = []
    first_row_seen: set[str] = set()
    for row in values:
        c = row.value
        item_changed = c.code not in first_row_seen and item_status[c.code] == "updated"
        first_row_seen.add(c.code)
        existing = prices.get((c.code, c.valid_from))
        # The national columns the file has; those it leaves out keep what is stored.
        held = {"price": c.price, "valid_to": c.valid_to, **c.national}
        if existing is None:
            new_prices.append(_price_record(c, item_ids[c.code]))
            summary.count("added")
        elif {k: v for k, v in existing[1].items() if k in held} != held:
            changed_prices.append({"id": existing[0], **held})
            summary.count("updated")
        else:
            summary.count("updated" if item_changed else "unchanged")
    # Close periods before opening the ones that follow them: the periods never
    # overlap at any point of the transaction.
    _update(session, ItemPrice, changed_prices)
    _insert(session, ItemPrice, new_prices)
    statuses = list(item_status.values())
    summary.notes = [_note("items", statuses.count("added"), statuses.count("updated"))]
    old_kinds = [row for row in values if row.value.old_kind is not None]
    if old_kinds:
        summary.notes.append(
            f"{len(old_kinds)} row(s) of kind {old_kinds[0].value.old_kind} read as "
            f"{old_kinds[0].value.kind} (the 一般诊疗费's kind is now called consultation)"
        )


def _price_record(row: CatalogRow, item_id: int) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "price": row.price,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        **dict.fromkeys(NATIONAL_COLUMNS),
        **row.national,
    }


# --- diagnoses -------------------------------------------------------------------


def _import_diagnoses(session: Session, rows: Iterable[LoadedRow], summary: ImportSummary) -> None:
    """The national diagnosis list (tens of thousands of rows): one read, batched writes.

    A code's pinyin is worked out only when its name is new or changed: a
    re-import of the whole list compares and writes nothing.
    """
    values, problems = _read(rows, diagnosis_row)
    problems += duplicate_problems(values, lambda d: d.code, "code", "diagnosis code")
    _reject_if(summary.source, problems)
    existing = {
        code: (did, rest)
        for did, code, *rest in session.execute(
            select(
                Diagnosis.id,
                Diagnosis.code,
                Diagnosis.name,
                Diagnosis.system,
                Diagnosis.valid_from,
                Diagnosis.valid_to,
            )
        )
    }
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in values:
        d = row.value
        record = {
            "name": d.name,
            "system": d.system,
            "valid_from": d.valid_from,
            "valid_to": d.valid_to,
        }
        if d.code not in existing:
            new.append({"code": d.code, "pinyin": pinyin_initials(d.name), **record})
            summary.count("added")
            continue
        diagnosis_id, current = existing[d.code]
        if list(current) != list(record.values()):
            if current[0] != d.name:
                record["pinyin"] = pinyin_initials(d.name)
            changed.append({"id": diagnosis_id, **record})
            summary.count("updated")
        else:
            summary.count("unchanged")
    _insert(session, Diagnosis, new)
    # Rows with and without a new pinyin: one executemany per shape.
    for has_pinyin in (True, False):
        _update(session, Diagnosis, [c for c in changed if ("pinyin" in c) is has_pinyin])


_IMPORTERS: dict[str, Callable[[Session, Iterable[LoadedRow], ImportSummary], None]] = {
    "villages": _import_villages,
    "clinics": _import_clinics,
    "residents": _import_residents,
    "catalog": _import_catalog,
    "deaths": _import_deaths,
    "deliveries": _import_deliveries,
    "diagnoses": _import_diagnoses,
}
