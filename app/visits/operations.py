"""Quoting, recording and voiding visits: the only writers of visits.

Guarantees:

* a quote and a recorded visit come from the same pricing path (one query
  for the patient's facts and the lines' prices,
  :func:`app.visits.queries.visit_facts`; then :func:`_quote`), so the
  terminal's live split, the API quote and the saved visit agree to the fen;
* prices come from the catalogue valid on the visit date, never the client;
* each operation is one unit of work, takes its actor and clock as arguments,
  and writes nothing when it refuses;
* locks are taken in one order — statement (clinic, month), then fund usage
  (person, year), then the receipt counter (clinic, year) — so concurrent
  visits and submits cannot deadlock:
  - the statement row closes the race between saving a visit and submitting
    its month (a visit never lands in a frozen month);
  - the fund-usage row closes the race between two visits of one person at two
    clinics (together they never exceed the annual cap);
  - the counter row makes receipt numbers gapless: it is incremented in the
    visit's own transaction, so a rolled-back visit gives its number back;
* recording costs a fixed number of statements whatever the visit: on
  PostgreSQL three, in the transaction the request's token lookup opened
  (``unit_of_work(join_reads=True)``) — the facts with the lines' prices; the
  month lock, the fund-usage upsert, the receipt counter and the visit's id
  in one (:data:`_PG_RESERVE`); then every write in one data-modifying
  ``WITH`` (visit, lines, idempotency key, fund-usage update, the clinic's
  month per item and day, the audit entry and its chain head;
  :func:`_pg_write`).  On SQLite, which has no ``INSERT`` inside ``WITH``,
  each is its own statement (twelve in all); a visit with diagnoses reads
  them in one more (:func:`_diagnoses`).  It loads nothing lazily and
  answers from what it wrote (``tests/integration/test_recording_path.py``
  counts them);
* the clinic's month per item (:class:`ClinicMonthItem`, the statement's item
  table) and the clinic's day (:class:`ClinicDay`, its per-day figures) are
  written by the same unit of work, under the clinic-month lock: recording adds
  the visit's lines and figures (on PostgreSQL inside the one ``WITH``, on
  SQLite one upsert more each), voiding takes them off, so they equal the
  ``GROUP BY`` over the month's non-voided lines and visits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    Connection,
    Table,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.operations import (
    append_bindparams,
    audit_clinic_event,
    audit_rollup_rebuild,
    audit_visit,
    pg_append_ctes,
    visit_record_parameters,
)
from app.auth.access import require_clinic_visible, require_doctor_of
from app.auth.models import User
from app.catalog.queries import diagnoses_by_code
from app.catalog.rules import MAX_DIAGNOSES
from app.checks.screening import NOTHING, Screening, enforce
from app.database import (
    UTCDateTime,
    accumulate_statement,
    end_reads,
    forget,
    insert_missing,
    loaded_instance,
    locked,
    unit_of_work,
    upsert_statement,
)
from app.errors import Conflict, DomainError, InvalidInput, NotFound, Problem, ProblemCode
from app.extensions import db
from app.localtime import local, local_date, month_of
from app.money import MoneyFormatError, parse_quantity
from app.people.models import Resident
from app.people.rules import parse_id_number
from app.periods.models import Statement
from app.periods.operations import lock_month_open, lock_open_month, require_open
from app.places.models import Clinic, Village
from app.places.queries import clinic_by_code
from app.policy.models import RATIO_SCALE, PolicyVersion
from app.visits.figures import CLINIC_DAY, REBUILD_SETTING, ledger_sql
from app.visits.models import (
    ClinicMonthItem,
    DayClose,
    DispensedPack,
    FundUsage,
    IdempotencyKey,
    ReceiptCounter,
    Visit,
    VisitCheck,
    VisitLine,
)
from app.visits.partitions import ensure_month, known
from app.visits.queries import (
    PricedItem,
    VisitFacts,
    day_sections,
    day_visits,
    visit_facts,
    year_usage,
)
from app.visits.rules import (
    Eligibility,
    InsuranceClass,
    Kind,
    LineInput,
    Split,
    YearUsage,
    compute_split,
)

MAX_LINES = 60
T = TypeVar("T")
# The tables, written with Core: no unit-of-work flush, no instance state.
VISIT = cast(Table, Visit.__table__)
VISIT_LINE = cast(Table, VisitLine.__table__)
IDEMPOTENCY_KEY = cast(Table, IdempotencyKey.__table__)
FUND_USAGE = cast(Table, FundUsage.__table__)
RECEIPT_COUNTER = cast(Table, ReceiptCounter.__table__)
CLINIC_MONTH_ITEM = cast(Table, ClinicMonthItem.__table__)
ITEM_SUMS = ("quantity", "amount", "lines")
_USAGE_UPDATE = (
    update(FUND_USAGE)
    .where(
        FUND_USAGE.c.resident_id == bindparam("person"), FUND_USAGE.c.year == bindparam("in_year")
    )
    .values(fund_paid=bindparam("paid"), deductible_used=bindparam("deductible"))
)


@cache
def _usage_upsert(dialect: str) -> Any:
    """The person's year row, created if missing and locked, as it stands: one statement."""
    return upsert_statement(
        dialect,
        FUND_USAGE,
        {"fund_paid": FUND_USAGE.c.fund_paid},
        [FUND_USAGE.c.fund_paid, FUND_USAGE.c.deductible_used],
    )


@cache
def _counter_upsert(dialect: str) -> Any:
    """The clinic's receipt counter for the year, created or incremented: its new value."""
    return upsert_statement(
        dialect,
        RECEIPT_COUNTER,
        {"last_seq": RECEIPT_COUNTER.c.last_seq + 1},
        [RECEIPT_COUNTER.c.last_seq],
    )


# A visit's columns as recording writes them (besides its id, receipt number and the
# void columns); a void takes their day figures off (_take_off_day).
VISIT_COLUMNS = (
    "clinic_id", "resident_id", "patient_id_number", "visited_at", "visit_date", "month",
    "year", "policy_version_id", "programme", "insured", "reasons", "injection",
    "lines_total", "registration", "injection_fee", "in_scope", "self_pay", "fund_base",
    "deductible_applied", "fund", "fiscal", "copay", "patient", "total", "recorded_by_id",
    "recorded_at",
)  # fmt: skip
# A line's columns and their PostgreSQL types (the lines travel as one JSON array).
LINE_COLUMNS = {
    "line_no": "integer", "item_id": "integer", "item_code": "text", "item_name": "text",
    "kind": "text", "unit": "text", "insurance_class": "text", "quantity": "integer",
    "unit_price": "integer", "amount": "integer", "in_scope": "integer", "self_pay": "integer",
    "fund_base": "integer", "national_code": "text", "fee_class": "text",
    "selfpay_ratio": "integer", "price_ceiling": "integer", "over_ceiling": "integer",
}  # fmt: skip


# The folded audit append's CTEs and parameters are named with this prefix.
AUDIT = "audit_"


@cache
def _pg_write(with_key: bool, with_usage: bool) -> TextClause:
    """PostgreSQL: every write of a recorded visit in ONE statement (data-modifying WITH).

    The visit (its id and receipt number reserved by :data:`_PG_RESERVE`; one
    JSON object, ``:visit``) and its lines (one JSON array, ``:lines``) are
    inserted, then the idempotency key and the person's fund-usage year row
    (already locked), the lines, summed per item, are added to the clinic's
    month per item (:class:`ClinicMonthItem`) and the visit's figures to the
    clinic's day (:class:`ClinicDay`), and the ``visit.record`` audit entry is
    appended (:func:`app.audit.operations.pg_append_ctes`): the chain head is
    the last lock the transaction takes; every other row it locks is the
    clinic's or the person's, whose locks came first (:data:`_PG_RESERVE`).
    It answers the entry's sequence number (NULL when the clinic's chain has
    no head yet: the caller appends).
    """
    line_types = ", ".join(f"{name} {kind}" for name, kind in LINE_COLUMNS.items())
    key = """, new_key AS (
    INSERT INTO idempotency_key (user_id, key, request_hash, visit_id, visit_month, created_at)
    SELECT :key_user_id, :key, :request_hash, new_visit.id, new_visit.month, :key_created_at
    FROM new_visit
)"""
    usage = """, new_usage AS (
    UPDATE fund_usage SET fund_paid = :paid, deductible_used = :deductible
    WHERE resident_id = :person AND year = :in_year
)"""
    sql = f"""
WITH new_visit AS (
    INSERT INTO visit SELECT * FROM jsonb_populate_record(NULL::visit, CAST(:visit AS jsonb))
    RETURNING *
), new_lines AS (
    INSERT INTO visit_line (visit_id, month, {", ".join(LINE_COLUMNS)})
    SELECT new_visit.id, new_visit.month, line.*
    FROM new_visit, jsonb_to_recordset(CAST(:lines AS jsonb)) AS line({line_types})
    RETURNING item_code, item_name, unit, quantity, amount
), new_items AS (
    INSERT INTO clinic_month_item
        (month, clinic_id, item_code, item_name, unit, quantity, amount, lines)
    SELECT v.month, v.clinic_id, l.item_code, l.item_name, l.unit,
           sum(l.quantity), sum(l.amount), count(*)
    FROM new_lines AS l, new_visit AS v
    GROUP BY v.month, v.clinic_id, l.item_code, l.item_name, l.unit
    ON CONFLICT (month, clinic_id, item_code, item_name, unit) DO UPDATE SET
        quantity = clinic_month_item.quantity + excluded.quantity,
        amount = clinic_month_item.amount + excluded.amount,
        lines = clinic_month_item.lines + excluded.lines
), new_day AS (
    {ledger_sql().pg_day_part("new_visit")}
){key if with_key else ""}{usage if with_usage else ""}, {pg_append_ctes(AUDIT)}
SELECT (SELECT seq FROM {AUDIT}new_entry) AS audit_seq FROM new_visit
"""
    # Within what psycopg caches the conversion of (4,096 characters, 50
    # parameters; tests/integration/test_recording_path.py): parsed once per process.
    sql = "\n".join(line.strip() for line in sql.strip().splitlines())
    return text(sql).bindparams(
        *([bindparam("key_created_at", type_=UTCDateTime())] if with_key else []),
        *append_bindparams(AUDIT),
    )


# PostgreSQL: everything recording locks or reserves before it prices the visit,
# in ONE statement and in the module's lock order.  The statement row is locked
# first (``SELECT … FOR UPDATE`` in ``month``); the person's year row is upserted
# from ``month`` (so after that lock, and only when the month is open), and the
# receipt counter is incremented from ``usage`` (so after that one): the next
# receipt number, gapless because the increment rolls back with a refused visit.
# The visit's id is drawn from its sequence here so the audit entry, which names
# it, can be written in the same statement as the visit.  No row answered: the
# month's statement row does not exist yet.  It also sets, for this transaction
# only, generic plans for the cached queries PostgreSQL runs on its own: the
# foreign-key checks of the visit's lines and key.  Their referenced table is
# partitioned, and a custom plan (pruned while planning) looks cheaper, so each
# check would be planned afresh — ≈ 0.4 ms of the server's time per visit; a
# generic plan prunes when it runs.
_PG_RESERVE = text("""
WITH month AS (
    SELECT status FROM statement WHERE clinic_id = :clinic_id AND month = :month FOR UPDATE
), usage AS (
    INSERT INTO fund_usage (resident_id, year, fund_paid, deductible_used)
    SELECT CAST(:resident_id AS integer), :year, 0, 0 FROM month
    WHERE month.status = 'open' AND CAST(:resident_id AS integer) IS NOT NULL
    ON CONFLICT (resident_id, year) DO UPDATE SET fund_paid = fund_usage.fund_paid
    RETURNING fund_paid, deductible_used
), counter AS (
    INSERT INTO receipt_counter (clinic_id, year, last_seq)
    SELECT :clinic_id, :year, 1 FROM month LEFT JOIN usage ON true WHERE month.status = 'open'
    ON CONFLICT (clinic_id, year) DO UPDATE SET last_seq = receipt_counter.last_seq + 1
    RETURNING last_seq
)
SELECT month.status, usage.fund_paid, usage.deductible_used, counter.last_seq AS seq,
       nextval(pg_get_serial_sequence('visit', 'id')) AS visit_id,
       set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode
FROM month LEFT JOIN usage ON true LEFT JOIN counter ON true
""")


@dataclass(frozen=True)
class Reserved:
    """What recording holds before it prices: the person's usage, the receipt sequence.

    ``visit_id`` is the id drawn for the visit on PostgreSQL (None on SQLite,
    where the insert assigns it).
    """

    usage: YearUsage
    seq: int
    visit_id: int | None


def _reserve(
    session: Session, clinic: Clinic, month: str, resident_id: int | None, year: int
) -> Reserved:
    """The month's lock (refused unless open), the person's year row, the next receipt number.

    On PostgreSQL one statement (:data:`_PG_RESERVE`; three the first visit of
    a clinic's month, which creates its statement row); on SQLite one each.
    """
    dialect = session.get_bind().dialect.name
    connection = session.connection()
    if dialect == "postgresql":
        key = {"clinic_id": clinic.id, "month": month, "resident_id": resident_id, "year": year}
        row = connection.execute(_PG_RESERVE, key).one_or_none()
        if row is None:
            insert_missing(
                session, Statement, {"clinic_id": clinic.id, "month": month, "status": "open"}
            )
            row = connection.execute(_PG_RESERVE, key).one()
        require_open(clinic, month, row.status, "visited_at")
        usage = YearUsage()
        if resident_id is not None:
            usage = YearUsage(fund_paid=row.fund_paid, deductible_used=row.deductible_used)
        return Reserved(usage, row.seq, row.visit_id)
    lock_month_open(session, clinic, month, "visited_at")
    usage = YearUsage()
    if resident_id is not None:
        row = connection.execute(
            _usage_upsert(dialect),
            {"resident_id": resident_id, "year": year, "fund_paid": 0, "deductible_used": 0},
        ).one()
        usage = YearUsage(fund_paid=row.fund_paid, deductible_used=row.deductible_used)
    seq = connection.execute(
        _counter_upsert(dialect), {"clinic_id": clinic.id, "year": year, "last_seq": 1}
    ).scalar_one()
    return Reserved(usage, seq, None)


EARLIEST_VISIT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class LineRequest:
    item: str
    quantity: str
    # The drug traceability codes (药品追溯码) of the packs dispensed, one per pack.
    trace_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VisitRequest:
    """What a doctor's client sends; no prices, no shares."""

    clinic: str
    patient_id_number: str
    injection: bool = False
    lines: tuple[LineRequest, ...] = ()
    visited_at: dt.datetime | None = None
    # The doctor's reason for recording a visit the checks warn about (事前审核).
    warning_reason: str | None = None
    # A visit captured at a terminal that could not reach the server (issue 25).
    offline: OfflineCapture | None = None
    # Diagnosis codes (SPEC §4): the main one first, up to MAX_DIAGNOSES in all.
    diagnoses: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """A hash of the request as sent, to tell a retry from a different request.

        The offline part is left out: a form whose post was lost on a dropping link is
        queued by the terminal under the form's own key, with a capture time; if the
        post had reached the server after all, the upload is the same visit, and
        returns it.
        """
        body = {
            "clinic": self.clinic,
            "patient_id_number": self.patient_id_number.strip().upper(),
            "injection": self.injection,
            "lines": [
                # Codes only when sent: a request without them hashes as before.
                [
                    line.item,
                    str(line.quantity),
                    *([list(line.trace_codes)] * bool(line.trace_codes)),
                ]
                for line in self.lines
            ],
            "visited_at": self.visited_at.isoformat() if self.visited_at else None,
        }
        if self.diagnoses:  # absent from the hash without them: older keys still match
            body["diagnoses"] = list(self.diagnoses)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class OfflineCapture:
    """How a visit saved at a terminal without the server reaches it (issue 25).

    ``captured_at`` is when the doctor saved it there (the visit time when none is
    given); the late-entry check measures from it, not from the upload.
    ``expected_patient`` (fen) and ``expected_programme`` are what the provisional
    slip told the patient: recording refuses (409) a visit the server would price
    differently — a price changed, the patient not in the programme after all —
    so the doctor sees it and decides, rather than a receipt contradicting the slip.
    """

    captured_at: dt.datetime
    code: str
    expected_patient: int | None = None
    expected_programme: bool | None = None


@dataclass(frozen=True)
class Quote:
    """A priced visit, not saved: everything needed to show or store it."""

    clinic: Clinic
    visited_at: dt.datetime
    id_number: str
    resident: Resident | None
    policy_version: PolicyVersion | None
    eligibility: Eligibility
    items: tuple[PricedItem, ...]
    usage: YearUsage
    split: Split
    hukou_village: Village | None = field(default=None)
    injection: bool = False  # given, whether or not a fee is charged for it
    # The visit's diagnoses (code, name), the main one first.
    diagnoses: tuple[tuple[str, str], ...] = ()
    checks: Screening = NOTHING  # the checks at recording that fire (a :class:`Screen`'s)

    @property
    def year(self) -> int:
        return local(self.visited_at).year


# --- shared pricing path -------------------------------------------------------


def _visited_at(request: VisitRequest, now: dt.datetime) -> dt.datetime:
    captured = request.offline.captured_at if request.offline is not None else None
    visited_at = request.visited_at or captured or now
    if request.visited_at is None and captured is not None and captured.tzinfo and captured > now:
        # The terminal's clock is ahead of the server's: said of the capture time.
        raise InvalidInput(Problem("captured_at", "is in the future", ProblemCode.CAPTURE_FUTURE))
    if visited_at.tzinfo is None:
        raise InvalidInput(
            Problem("visited_at", "needs a time zone, e.g. +08:00", ProblemCode.NO_ZONE)
        )
    if visited_at > now:
        raise InvalidInput(Problem("visited_at", "is in the future", ProblemCode.FUTURE))
    # A floor against typos (and against dates whose UTC or Shanghai reading
    # falls outside what datetime can hold); the programme itself began in 2016.
    if visited_at < EARLIEST_VISIT:
        raise InvalidInput(Problem("visited_at", "is before 2000", ProblemCode.TOO_EARLY))
    return visited_at.astimezone(dt.UTC)


def _captured_at(request: VisitRequest, visited_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """An offline capture time, bounded: after the visit, not in the future.

    Its month must be open too (checked by :func:`_refuse_frozen_capture`), so a
    capture time never reaches into a month already settled.
    """
    assert request.offline is not None
    captured = request.offline.captured_at
    if captured.tzinfo is None:
        raise InvalidInput(
            Problem("captured_at", "needs a time zone, e.g. +08:00", ProblemCode.NO_ZONE)
        )
    if captured > now:
        raise InvalidInput(Problem("captured_at", "is in the future", ProblemCode.CAPTURE_FUTURE))
    if captured < visited_at:
        raise InvalidInput(
            Problem("captured_at", "is before the visit time", ProblemCode.CAPTURE_BEFORE_VISIT)
        )
    return captured.astimezone(dt.UTC)


def _refuse_frozen_capture(clinic: Clinic, visit_month: str, captured: dt.datetime) -> None:
    month = month_of(captured)
    if month != visit_month:
        _refuse_frozen_month(clinic, month, "captured_at")


def _check_expectations(request: VisitRequest, split: Split, reasons: tuple[str, ...]) -> None:
    """Refuse an offline visit the server prices unlike its provisional slip (409)."""
    offline = request.offline
    if offline is None:
        return
    if offline.expected_programme is not None and offline.expected_programme != split.programme:
        raise Conflict(
            Problem(
                "expected_programme",
                f"the slip said programme={offline.expected_programme}; the register says "
                f"{split.programme} ({', '.join(reasons) or 'no reason'})",
                ProblemCode.PROGRAMME_DIFFERS,
            )
        )
    if offline.expected_patient is not None and offline.expected_patient != split.patient:
        raise Conflict(
            Problem(
                "expected_patient",
                f"the slip said the patient pays {offline.expected_patient} fen; "
                f"the catalogue and register give {split.patient}",
                ProblemCode.PATIENT_DIFFERS,
            )
        )


def _line_inputs(
    request: VisitRequest, day: dt.date, catalogue: dict[str, PricedItem]
) -> tuple[list[LineInput], tuple[PricedItem, ...]]:
    """The lines priced from ``catalogue`` (the facts' items, on ``day``), or every problem."""
    problems: list[Problem] = []
    if not request.lines:
        problems.append(Problem("lines", "a visit needs at least one line", ProblemCode.NO_LINES))
    if len(request.lines) > MAX_LINES:
        problems.append(
            Problem("lines", f"at most {MAX_LINES} lines per visit", ProblemCode.TOO_MANY_LINES)
        )

    inputs: list[LineInput] = []
    items: list[PricedItem] = []
    for i, line in enumerate(request.lines):
        try:
            quantity = parse_quantity(line.quantity)
        except MoneyFormatError as exc:
            problems.append(Problem(f"lines[{i}].quantity", str(exc), ProblemCode(exc.code)))
            quantity = 0
        item = catalogue.get(line.item)
        if item is None:
            problems.append(
                Problem(
                    f"lines[{i}].item",
                    f"unknown catalogue item {line.item!r}",
                    ProblemCode.UNKNOWN_ITEM,
                )
            )
            continue
        if item.price is None:
            problems.append(
                Problem(
                    f"lines[{i}].item",
                    f"{line.item} has no approved price on {day}",
                    ProblemCode.NO_PRICE,
                )
            )
            continue
        items.append(item)
        inputs.append(
            LineInput(
                item=item.code,
                kind=Kind(item.kind),
                insurance_class=InsuranceClass(item.insurance_class),
                unit_price=item.price,
                quantity=quantity,
                selfpay_ratio=(
                    None
                    if item.selfpay_ratio is None
                    else Decimal(item.selfpay_ratio) / RATIO_SCALE
                ),
                price_ceiling=item.price_ceiling,
            )
        )
    if problems:
        raise InvalidInput(problems)
    return inputs, tuple(items)


def _diagnoses(
    request: VisitRequest, day: dt.date, version: PolicyVersion | None
) -> tuple[tuple[str, str], ...]:
    """The request's diagnoses as (code, name), each valid on ``day``; or every problem.

    One query, and none without diagnoses.  A district whose policy says
    ``require_diagnosis`` refuses a visit without one.
    """
    codes = [code.strip() for code in request.diagnoses]
    problems: list[Problem] = []
    if not codes and version is not None and version.require_diagnosis:
        problems.append(
            Problem(
                "diagnoses",
                "this district requires at least one diagnosis",
                ProblemCode.NO_DIAGNOSIS,
            )
        )
    if len(codes) > MAX_DIAGNOSES:
        problems.append(
            Problem(
                "diagnoses",
                f"at most {MAX_DIAGNOSES} diagnoses: the main one and {MAX_DIAGNOSES - 1} more",
                ProblemCode.TOO_MANY_DIAGNOSES,
            )
        )
    known = diagnoses_by_code(codes[:MAX_DIAGNOSES])
    found: list[tuple[str, str]] = []
    for i, code in enumerate(codes[:MAX_DIAGNOSES]):
        where = f"diagnoses[{i}]"
        row = known.get(code)
        if row is None:
            problems.append(
                Problem(where, f"unknown diagnosis code {code!r}", ProblemCode.UNKNOWN_DIAGNOSIS)
            )
        elif row.valid_from > day or (row.valid_to is not None and row.valid_to < day):
            problems.append(
                Problem(where, f"{code} is not valid on {day}", ProblemCode.DIAGNOSIS_NOT_VALID)
            )
        elif code in codes[:i]:
            problems.append(
                Problem(where, f"{code} is listed twice", ProblemCode.DIAGNOSIS_REPEATED)
            )
        else:
            found.append((code, row.name))
    if problems:
        raise InvalidInput(problems)
    return tuple(found)


def _facts(
    request: VisitRequest, actor: User, now: dt.datetime, *, recording: bool
) -> tuple[VisitFacts, dt.datetime, str]:
    """The clinic and the patient's standing, after the actor's scope check: one query.

    Problems are reported in a fixed order: the clinic, the actor's scope, the
    time, then (by the caller, after its month check) the ID number.
    """
    check = require_doctor_of if recording else require_clinic_visible
    try:
        visited_at = _visited_at(request, now)
    except InvalidInput:
        check(actor, clinic_by_code(request.clinic))
        raise
    try:
        id_number = parse_id_number(request.patient_id_number, "patient_id_number").value
    except InvalidInput:
        id_number = ""  # matches no resident; the caller raises the problem in its turn
    # The lines' items and prices come with the facts (one query; read, not locked).
    codes = {line.item for line in request.lines}
    facts = visit_facts(id_number, local_date(visited_at), clinic_code=request.clinic, codes=codes)
    if facts is None:
        clinic_by_code(request.clinic)  # raises the one "unknown clinic" problem
        raise AssertionError("unreachable")
    check(actor, facts.clinic)
    return facts, visited_at, id_number


def _quote(
    request: VisitRequest,
    facts: VisitFacts,
    visited_at: dt.datetime,
    id_number: str,
    lines: list[LineInput],
    items: tuple[PricedItem, ...],
    usage: YearUsage,
) -> Quote:
    """The shared pricing path: the same facts, lines and usage give the same split."""
    standing = facts.standing
    version = standing.policy_version
    split = compute_split(
        version.to_policy() if version else None,
        standing.eligibility,
        lines,
        request.injection,
        usage,
    )
    return Quote(
        clinic=facts.clinic,
        visited_at=visited_at,
        id_number=id_number,
        resident=standing.resident,
        policy_version=version,
        eligibility=standing.eligibility,
        items=items,
        usage=usage,
        split=split,
        hukou_village=standing.village,
        injection=request.injection,
        diagnoses=_diagnoses(request, local_date(visited_at), version),
    )


# --- the clinic's month per item --------------------------------------------------


def _item_sums(clinic_id: int, month: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A visit's lines summed per item as the statement prints it: one row per key."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    for line in lines:
        key = (line["item_code"], line["item_name"], line["unit"])
        total = sums.setdefault(key, [0, 0, 0])
        total[0] += line["quantity"]
        total[1] += line["amount"]
        total[2] += 1
    return [
        {
            "month": month,
            "clinic_id": clinic_id,
            "item_code": code,
            "item_name": name,
            "unit": unit,
            "quantity": quantity,
            "amount": amount,
            "lines": count,
        }
        for (code, name, unit), (quantity, amount, count) in sorted(sums.items())
    ]


def _take_off_day(session: Session, visit: Visit) -> None:
    """Take a voided visit's figures off its clinic's day: one UPDATE."""
    session.execute(
        ledger_sql().day_take_off({column: getattr(visit, column) for column in VISIT_COLUMNS})
    )


@cache
def _items_upsert() -> Any:
    """SQLite: add a visit's item sums to the clinic's month per item (one executemany)."""
    return accumulate_statement("sqlite", ClinicMonthItem, list(ITEM_SUMS))


def _take_off_items(session: Session, visit: Visit) -> None:
    """Take a voided visit's lines off its clinic's month per item: one UPDATE … FROM."""
    line, row = VISIT_LINE.c, CLINIC_MONTH_ITEM.c
    sums = (
        select(
            line.item_code,
            line.item_name,
            line.unit,
            func.sum(line.quantity).label("quantity"),
            func.sum(line.amount).label("amount"),
            func.count().label("lines"),
        )
        .where(line.visit_id == visit.id)
        .group_by(line.item_code, line.item_name, line.unit)
        .subquery()
    )
    session.execute(
        update(CLINIC_MONTH_ITEM)
        .where(
            row.month == visit.month,
            row.clinic_id == visit.clinic_id,
            row.item_code == sums.c.item_code,
            row.item_name == sums.c.item_name,
            row.unit == sums.c.unit,
        )
        .values({name: row[name] - sums.c[name] for name in ITEM_SUMS})
    )


# --- use cases -------------------------------------------------------------------


def _refuse_frozen_month(clinic: Clinic, month: str, name: str = "visited_at") -> None:
    """The quote refuses what recording would refuse: a visit into a submitted month.

    A read, not a lock: saving takes the lock and checks again.
    """
    status = db.session.scalar(
        select(Statement.status).where(Statement.clinic_id == clinic.id, Statement.month == month)
    )
    if status is not None and status != "open":
        raise Conflict(
            Problem(
                name,
                f"{month} of clinic {clinic.code} is {status}; its visits can no longer change",
                ProblemCode.MONTH_FROZEN,
            )
        )


class Screen(Protocol):
    """The checks at recording of a priced visit: what fires, nothing written.

    Recording receives it from the composition root (app.factory installs
    :func:`app.oversight.checks.screen`, which queries the person's earlier
    visits), so this area never imports the oversight above it.
    """

    def __call__(self, session: Session, quote: Quote, now: dt.datetime) -> Screening: ...


def quote_visit(
    request: VisitRequest, actor: User, now: dt.datetime, *, screen: Screen
) -> Quote:
    """Price a visit without saving it (the terminal's live split, the API quote)."""
    facts, visited_at, id_number = _facts(request, actor, now, recording=False)
    _refuse_frozen_month(facts.clinic, month_of(visited_at))
    if not id_number:
        parse_id_number(request.patient_id_number, "patient_id_number")  # raises
    day = local_date(visited_at)
    lines, items = _line_inputs(request, day, facts.items)
    resident = facts.standing.resident
    usage = YearUsage()
    if resident is not None:
        usage = YearUsage(*year_usage(resident.id, local(visited_at).year))
    quote = _quote(request, facts, visited_at, id_number, lines, items, usage)
    return replace(quote, checks=screen(db.session(), quote, now))


def _replay(session: Session, actor: User, key: str, fingerprint: str) -> Visit | None:
    row = session.execute(
        select(IdempotencyKey.request_hash, IdempotencyKey.visit_id).where(
            and_(IdempotencyKey.user_id == actor.id, IdempotencyKey.key == key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            Problem(
                "Idempotency-Key",
                "was already used with a different request",
                ProblemCode.KEY_REUSED,
            )
        )
    return session.scalars(
        select(Visit)
        .where(Visit.id == row.visit_id)
        .options(joinedload(Visit.clinic), selectinload(Visit.lines))
    ).one()


def record_visit(
    request: VisitRequest,
    actor: User,
    now: dt.datetime,
    idempotency_key: str | None = None,
    *,
    screen: Screen,
) -> tuple[Visit, bool]:
    """Record a visit; ``(visit, created)``. A retried key returns the first visit.

    The key is not looked up first: a retry is rare, so the first submission
    pays nothing for it.  A retry fails where the first one succeeded — on the
    key's unique constraint at the latest, or earlier (its month frozen since,
    say) — and rolls back whole (its receipt number included); only then is
    the key looked up, and the first visit returned.  A key used before with a
    different request is refused whatever the new request's own fate.
    """
    fingerprint = request.fingerprint()
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 100:
        raise InvalidInput(
            Problem("Idempotency-Key", "must be 1 to 100 characters", ProblemCode.BAD_KEY)
        )
    _ensure_partition(request, now)
    try:
        return _record(request, actor, now, idempotency_key, fingerprint, screen), True
    except (IntegrityError, DomainError):
        if idempotency_key is None:
            raise
        db.session.rollback()
        visit = _replay(db.session(), actor, idempotency_key, fingerprint)
        if visit is None:
            raise
        return visit, False


def _ensure_partition(request: VisitRequest, now: dt.datetime) -> None:
    """PostgreSQL: the visit's month has its partitions (made if missing, app.visits.partitions).

    Before the recording transaction touches ``visit``: making a partition
    locks the parent table.  A bad time is left for :func:`_record` to report.
    """
    try:
        visited_at = _visited_at(request, now)
    except InvalidInput:
        return
    month = month_of(visited_at)
    if known(db.engine, month):
        return
    # The request's reads (a page's list of visits, say) hold a lock on visit
    # that making the partition would wait on: end them first.
    end_reads(db.session())
    ensure_month(db.engine, month)


def _record(
    request: VisitRequest,
    actor: User,
    now: dt.datetime,
    idempotency_key: str | None,
    fingerprint: str,
    screen: Screen,
) -> Visit:
    """One visit in 3 statements (12 on SQLite), locks in the module's order; answered in memory."""
    # Everything is written with Core statements and answered from what was
    # written, so nothing the session loaded needs expiring (no re-read).
    with unit_of_work(expire=False, join_reads=True) as session:
        # The facts: the clinic, the patient's standing and the lines' prices (one query).
        facts, visited_at, id_number = _facts(request, actor, now, recording=True)
        resident = facts.standing.resident
        # The month's lock and check, the person's year row (created if missing,
        # locked) and the next receipt number: one statement on PostgreSQL.
        reserved = _reserve(
            session,
            facts.clinic,
            month_of(visited_at),
            resident.id if resident is not None else None,
            local(visited_at).year,
        )
        if not id_number:
            parse_id_number(request.patient_id_number, "patient_id_number")  # raises
        # The quote: the same pricing path as the terminal's live split.
        lines, items = _line_inputs(request, local_date(visited_at), facts.items)
        quote = _quote(request, facts, visited_at, id_number, lines, items, reserved.usage)
        captured_at = None
        if request.offline is not None:
            captured_at = _captured_at(request, visited_at, now)
            _refuse_frozen_capture(facts.clinic, month_of(visited_at), captured_at)
            _check_expectations(request, quote.split, facts.standing.eligibility.reasons)
        # The screen: the checks at recording (a refusal raises, nothing written).
        # Late or not is measured to when the visit was entered at the terminal:
        # an offline capture's time in the queue does not count.
        checks = enforce(screen(session, quote, captured_at or now), request.warning_reason)
        # The post: the visit, its lines and every row derived from them.
        key = None
        if idempotency_key is not None:
            key = {"key": idempotency_key, "request_hash": fingerprint, "created_at": now}
        offline_code = request.offline.code if request.offline is not None else None
        posting = _posting(quote, reserved, actor, now, key, captured_at, offline_code)
        visit, audited = post_visit(
            session, posting, lambda visit: visit_record_parameters(actor, visit, now, AUDIT)
        )
        store_checks(session, visit, checks)
        _store_packs(session, visit, request)
        # The audit: folded into the post on PostgreSQL once the clinic's chain has a head.
        if not audited:
            audit_visit(session, actor, "visit.record", visit, now)
    return visit


def store_checks(session: Session, visit: Visit, screening: Screening) -> None:
    """Every hit with the visit, in the visit's transaction (no statement when none fired).

    The visit's ``checks`` are set to what was written, so the answer needs no read-back.
    """
    rows = [
        VisitCheck(
            visit_id=visit.id,
            visit_month=visit.month,
            rule=hit.rule.value,
            severity=hit.severity.value,
            subject=hit.subject,
            facts=json.dumps(dict(hit.facts), sort_keys=True, ensure_ascii=False),
            reason=screening.reason,
            policy_version_id=screening.policy_version_id,
        )
        for hit in screening.hits
    ]
    set_committed_value(visit, "checks", rows)
    if not rows:
        return
    session.execute(
        insert(VisitCheck),
        [
            {
                "visit_id": visit.id,
                "visit_month": visit.month,
                "rule": hit.rule.value,
                "severity": hit.severity.value,
                "subject": hit.subject,
                "facts": json.dumps(dict(hit.facts), sort_keys=True, ensure_ascii=False),
                "reason": screening.reason,
                "policy_version_id": screening.policy_version_id,
            }
            for hit in screening.hits
        ],
    )


def pack_problems(request: VisitRequest) -> list[Problem]:
    """A traceability code names one pack: at most once in a visit."""
    seen: set[str] = set()
    problems: list[Problem] = []
    for i, line in enumerate(request.lines):
        for j, code in enumerate(line.trace_codes):
            if code in seen:
                problems.append(
                    Problem(
                        f"lines[{i}].trace_codes[{j}]",
                        "this traceability code is already on this visit",
                        ProblemCode.TRACE_CODE_REPEATED,
                    )
                )
            seen.add(code)
    return problems


def _store_packs(session: Session, visit: Visit, request: VisitRequest) -> None:
    """The visit's dispensed packs' traceability codes, in the recording's unit of work."""
    rows = [
        {
            "visit_id": visit.id,
            "visit_month": visit.month,
            "clinic_id": visit.clinic_id,
            "line_no": no,
            "item_code": line.item,
            "trace_code": code,
        }
        for no, line in enumerate(request.lines, start=1)
        for code in line.trace_codes
    ]
    if not rows:
        return
    problems = pack_problems(request)
    if problems:
        raise InvalidInput(problems)
    session.execute(insert(cast(Table, DispensedPack.__table__)), rows)


# --- the one writer of a visit's money ---------------------------------------------


@dataclass(frozen=True)
class Posting:
    """A priced visit as it is written: its row, its lines and the rows derived from them.

    ``visit_id`` is the id reserved on PostgreSQL (None on SQLite); ``key`` the
    idempotency key's row, ``usage`` the person's fund usage after the visit
    (None when the visit moves neither the fund nor the deductible).
    """

    clinic: Clinic
    values: dict[str, Any]
    lines: list[dict[str, Any]]
    user_id: int
    visit_id: int | None
    key: dict[str, Any] | None
    usage: dict[str, Any] | None


def _posting(
    quote: Quote,
    reserved: Reserved,
    actor: User,
    now: dt.datetime,
    key: dict[str, Any] | None,
    captured_at: dt.datetime | None,
    offline_code: str | None,
) -> Posting:
    """The quote and what was reserved for it, as the rows :func:`post_visit` writes."""
    clinic, split, resident = quote.clinic, quote.split, quote.resident
    year = quote.year
    values = {
        "clinic_id": clinic.id,
        "resident_id": resident.id if resident else None,
        "patient_id_number": quote.id_number,
        "visited_at": quote.visited_at,
        "visit_date": local_date(quote.visited_at),
        "month": month_of(quote.visited_at),
        "year": year,
        "policy_version_id": quote.policy_version.id if quote.policy_version else None,
        "programme": split.programme,
        "insured": split.insured,
        "reasons": ",".join(quote.eligibility.reasons),
        "injection": quote.injection,
        "diagnoses": ",".join(code for code, _ in quote.diagnoses),
        "main_diagnosis": quote.diagnoses[0][0] if quote.diagnoses else None,
        "diagnosis_names": "\t".join(name for _, name in quote.diagnoses),
        "lines_total": split.lines_total,
        "registration": split.registration,
        "injection_fee": split.injection,
        "in_scope": split.in_scope,
        "self_pay": split.self_pay,
        "fund_base": split.fund_base,
        "deductible_applied": split.deductible_applied,
        "fund": split.fund,
        "fiscal": split.fiscal,
        "copay": split.copay,
        "patient": split.patient,
        "total": split.total,
        "recorded_by_id": actor.id,
        "practitioner_code": actor.practitioner_code,
        "recorded_at": now,
        "receipt_seq": reserved.seq,
        "receipt_number": f"{clinic.code}-{year}-{reserved.seq:06d}",
        "captured_at": captured_at,
        "offline_code": offline_code,
    }
    line_values = [
        {
            "line_no": no,
            "item_id": item.id,
            "item_code": item.code,
            "item_name": item.name,
            "kind": item.kind,
            "unit": item.unit,
            "insurance_class": item.insurance_class,
            "quantity": priced.quantity,
            "unit_price": priced.unit_price,
            "amount": priced.amount,
            "in_scope": priced.in_scope,
            "self_pay": priced.self_pay,
            "fund_base": priced.fund_base,
            "national_code": item.national_code,
            "fee_class": item.fee_class,
            "selfpay_ratio": item.selfpay_ratio if priced.selfpay_ratio is not None else None,
            "price_ceiling": priced.price_ceiling,
            "over_ceiling": priced.over,
        }
        for no, (priced, item) in enumerate(zip(split.lines, quote.items, strict=True), start=1)
    ]
    usage = None
    if resident is not None and (split.fund or split.deductible_applied):
        usage = {
            "person": resident.id,
            "in_year": year,
            "paid": split.usage_after.fund_paid,
            "deductible": split.usage_after.deductible_used,
        }
    return Posting(clinic, values, line_values, actor.id, reserved.visit_id, key, usage)


def post_visit(
    session: Session, posting: Posting, audit_parameters: Callable[[Visit], dict[str, Any]]
) -> tuple[Visit, bool]:
    """Write a visit, its lines and every row derived from them: ``(visit, audited)``.

    The idempotency key, the person's fund usage, the clinic's month per item
    and the clinic's day are written with the visit, so the rollups never
    differ from the visits.  The dialect is hidden here: on PostgreSQL one
    data-modifying ``WITH`` that also appends the ``visit.record`` audit entry
    (``audit_parameters`` gives its parameters; ``audited`` is False when the
    clinic's chain has no head yet and the caller must append it), on SQLite
    one statement each (``audited`` False).  The visit is answered from what
    was written (:func:`_answer`), never read back.
    """
    if posting.visit_id is not None:  # PostgreSQL: the id is known before the write
        row = {"id": posting.visit_id, **posting.values}
        visit = _answer(posting.clinic, row, posting.lines)
        audited = _write_postgresql(
            session,
            row,
            posting.lines,
            posting.user_id,
            posting.key,
            posting.usage,
            audit_parameters(visit),
        )
    else:
        visit_id = _write_sqlite(
            session, posting.values, posting.lines, posting.user_id, posting.key, posting.usage
        )
        visit = _answer(posting.clinic, {"id": visit_id, **posting.values}, posting.lines)
        audited = False
    values = posting.values
    forget(session, ReceiptCounter, values["clinic_id"], values["year"])
    if values["resident_id"] is not None:
        forget(session, FundUsage, values["resident_id"], values["year"])
    return visit, audited


def unpost_visit(
    session: Session, visit: Visit, reason: str, actor: User, now: dt.datetime
) -> None:
    """Void a visit (flagged, never deleted) and take off every row derived from it.

    The person's fund share and deductible go back (their year row locked),
    and the visit's lines and figures come off the clinic's month per item and
    day, so the rollups stay equal to the non-voided visits.  The caller holds
    the clinic-month lock and the visit's row.
    """
    if visit.resident_id is not None and (visit.fund or visit.deductible_applied):
        usage = locked(session, FundUsage, resident_id=visit.resident_id, year=visit.year)
        assert usage is not None
        usage.fund_paid -= visit.fund
        usage.deductible_used -= visit.deductible_applied
    _take_off_items(session, visit)
    _take_off_day(session, visit)
    visit.voided_at = now
    visit.voided_by_id = actor.id
    visit.void_reason = reason


def _answer(clinic: Clinic, values: dict[str, Any], lines: list[dict[str, Any]]) -> Visit:
    """The recorded visit as the answer, from what is written: a Visit never added to the
    session (nothing to flush, nothing to expire, nothing read back)."""
    visit = loaded_instance(Visit, values)
    set_committed_value(visit, "clinic", clinic)
    line_rows = [
        loaded_instance(VisitLine, {**line, "visit_id": values["id"], "month": values["month"]})
        for line in lines
    ]
    set_committed_value(visit, "lines", line_rows)
    return visit


def _write_postgresql(
    session: Session,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    user_id: int,
    key: dict[str, Any] | None,
    usage: dict[str, Any] | None,
    audit: dict[str, Any],
) -> bool:
    """The visit's writes and its audit entry in one statement (:func:`_pg_write`).

    False when the entry could not be appended (the clinic's chain has no head yet).
    """
    params = {
        "visit": json.dumps(values, default=_iso),
        "lines": json.dumps(lines),
        **(usage or {}),
        **audit,
    }
    if key is not None:
        params.update(
            key=key["key"],
            request_hash=key["request_hash"],
            key_created_at=key["created_at"],
            key_user_id=user_id,
        )
    statement = _pg_write(key is not None, usage is not None)
    audit_seq = session.connection().execute(statement, params).scalar_one()
    return audit_seq is not None


def _iso(value: dt.date) -> str:
    """A visit's dates and times in JSON as PostgreSQL reads them (times carry their zone)."""
    return value.isoformat()


def _write_sqlite(
    session: Session,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    user_id: int,
    key: dict[str, Any] | None,
    usage: dict[str, Any] | None,
) -> int:
    """The same writes as :func:`_write_postgresql` bar the audit entry, one statement each
    (no WITH … INSERT): the visit's id."""
    connection = session.connection()
    visit_id: int = connection.execute(insert(VISIT).returning(VISIT.c.id), values).scalar_one()
    month = values["month"]
    connection.execute(
        insert(VISIT_LINE), [{**line, "visit_id": visit_id, "month": month} for line in lines]
    )
    connection.execute(_items_upsert(), _item_sums(values["clinic_id"], values["month"], lines))
    sql = ledger_sql()
    connection.execute(sql.day_upsert("sqlite"), sql.day_row(values))
    if key is not None:
        connection.execute(
            insert(IDEMPOTENCY_KEY),
            {**key, "user_id": user_id, "visit_id": visit_id, "visit_month": month},
        )
    if usage is not None:
        connection.execute(_USAGE_UPDATE, usage)
    return visit_id


def fill_rollups(connection: Connection, month: str | None = None) -> tuple[int, int]:
    """The clinic-day and clinic-month item rows of ``month`` (``None``: every month),
    rebuilt from the non-voided visits and lines: (day rows, item rows).

    Set-based (one ``DELETE`` and one ``INSERT … SELECT`` each), inside the
    caller's transaction; it takes no lock (see :func:`rebuild_rollups`).
    """
    visit, line = VISIT.c, VISIT_LINE.c
    if connection.dialect.name == "postgresql":
        # The rows written are the GROUP BY of the visits itself: PostgreSQL's
        # check of each day row at commit (migration e1a9c3b5d7f2) is skipped
        # for this transaction.
        connection.execute(select(func.set_config(REBUILD_SETTING, "on", True)))
    live = [visit.voided_at.is_(None)] + ([visit.month == month] if month else [])
    day_names, day_rows = ledger_sql().day_rebuild(month)
    item_keys = [visit.month, visit.clinic_id, line.item_code, line.item_name, line.unit]
    counts = []
    for table, names, select_rows in (
        (CLINIC_DAY, day_names, day_rows),
        (
            CLINIC_MONTH_ITEM,
            ["month", "clinic_id", "item_code", "item_name", "unit", *ITEM_SUMS],
            select(*item_keys, func.sum(line.quantity), func.sum(line.amount), func.count())
            .join_from(VISIT_LINE, VISIT, visit.id == line.visit_id)
            .where(*live)
            .group_by(*item_keys),
        ),
    ):
        of_month = [table.c.month == month] if month else []
        connection.execute(delete(table).where(*of_month))
        connection.execute(insert(table).from_select(names, select_rows))
        # Counted, not rowcount: psycopg gives none for INSERT … SELECT.
        counts.append(
            connection.execute(
                select(func.count()).select_from(table).where(*of_month)
            ).scalar_one()
        )
    return counts[0], counts[1]


def rebuild_rollups(month: str | None, actor: User | str, now: dt.datetime) -> tuple[int, int]:
    """Rebuild the statement rollups from the visits and lines (after ``check-rollup``
    found a difference, e.g. a row edited outside the app): (day rows, item rows).

    One unit of work.  On PostgreSQL the two tables are locked against writes
    first (``SHARE ROW EXCLUSIVE``): a visit being recorded or voided waits for
    the rebuild, and one already under way is waited for.  Without it a visit
    inserting a new day or item row while the rebuild refills the table makes
    the rebuild's insert collide with that row (a unique violation, seen in
    ``tests/integration/test_concurrency.py``).  SQLite serialises every writer.
    The rebuild is audited (``rollup.rebuild``, with the rows it wrote).
    """
    with unit_of_work() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            # In the order recording and voiding lock them (the item rollup's CTE
            # and UPDATE come first): the other order deadlocks with a visit that
            # holds the item table and waits for the day table.
            connection.execute(
                text("LOCK TABLE clinic_month_item, clinic_day IN SHARE ROW EXCLUSIVE MODE")
            )
        days, items = fill_rollups(connection, month)
        audit_rollup_rebuild(session, actor, month, days, items, now)
    return days, items


def void_visit(visit_id: int, reason: str, actor: User, now: dt.datetime) -> Visit:
    """Void a visit of an open month; its fund share and deductible go back."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            Problem("reason", "a reason is required to void a visit", ProblemCode.REASON_REQUIRED)
        )
    if len(reason) > 200:
        raise InvalidInput(Problem("reason", "at most 200 characters", ProblemCode.REASON_TOO_LONG))
    with unit_of_work() as session:
        visit = session.get(Visit, visit_id)
        if visit is None:
            raise NotFound(Problem("visit", f"no visit {visit_id}", ProblemCode.NOT_FOUND))
        clinic = visit.clinic
        require_doctor_of(actor, clinic, "visit")
        lock_open_month(session, clinic, visit.month, "visit")
        visit = locked(session, Visit, id=visit_id)
        assert visit is not None
        if visit.voided_at is not None:
            raise Conflict(
                Problem(
                    "visit", f"visit {visit.receipt_number} is already voided", ProblemCode.VOIDED
                )
            )
        unpost_visit(session, visit, reason, actor, now)
        audit_visit(session, actor, "visit.void", visit, now)
    return visit


def close_day(clinic: Clinic, day: dt.date, actor: User, now: dt.datetime) -> DayClose:
    """The doctor closes his clinic's day (日结): what was entered since the last close.

    The first close takes the day so far; a later one (``seq`` 2, 3 …) takes
    only what came after the close before — visits recorded since, and voids
    since of visits closed earlier — so each close's figures, and its printed
    sheet, stay what was signed.  A close with nothing new since the last one
    is refused; a day not yet begun cannot be closed.  Visits recorded into the
    day later stay allowed while the month is open.
    """
    require_doctor_of(actor, clinic, "day")
    if day > local_date(now):
        raise InvalidInput(Problem("day", f"{day} has not begun", ProblemCode.FUTURE_DAY))
    with unit_of_work() as session:
        # Two clicks on 日结 at once must not both become close number n: the
        # clinic's row is locked while its closes are counted (SQLite: BEGIN IMMEDIATE).
        locked(session, Clinic, id=clinic.id)
        closes = list(
            session.scalars(
                select(DayClose)
                .where(DayClose.clinic_id == clinic.id, DayClose.day == day)
                .order_by(DayClose.seq)
            )
        )
        sections = day_sections(day_visits(clinic.id, day), closes)
        open_part = sections[-1] if sections and sections[-1].close is None else None
        if open_part is None or (closes and not open_part.entries):
            raise Conflict(
                Problem(
                    "day",
                    f"{day} of clinic {clinic.code} has nothing new to close",
                    ProblemCode.DAY_CLOSED,
                )
            )
        totals = open_part.totals
        close = DayClose(
            clinic_id=clinic.id,
            day=day,
            seq=len(closes) + 1,
            closed_by_id=actor.id,
            closed_at=now,
            visits=totals.visits,
            voided=totals.voided,
            registration=totals.registration,
            injection_fee=totals.injection_fee,
            patient_share=totals.patient_share,
            cash=totals.cash,
            fund=totals.fund,
            fiscal=totals.fiscal,
            total=totals.total,
        )
        session.add(close)
        after = {
            "seq": close.seq,
            "visits": totals.visits,
            "voided": totals.voided,
            "cash": totals.cash,
            "fund": totals.fund,
            "fiscal": totals.fiscal,
            "total": totals.total,
        }
        audit_clinic_event(
            session, actor, "day.close", ("day", f"{clinic.code}/{day}"), clinic.code, after, now
        )
    return close
