"""Importing the fund's settlement detail and booking what it changes: the only writers here.

Guarantees:

* an import is one unit of work: the file, its rows, the month's findings and
  any adjustments are written together, or nothing is (a bad row rejects the
  whole file, every problem counted, the first of each field listed);
* an import holds a bounded amount in memory whatever the file's size: the
  file is read as a stream and staged a chunk at a time in a temporary table
  (COPY on PostgreSQL), checked there set-based (a settlement id repeated, or
  imported before with other figures), and the month is matched clinic by
  clinic — the same findings as matching it at once, since every key lies
  within one institution code — reading columns, never a million ORM objects;
* importing the same file again changes nothing (its digest is stored per
  district and month); a settlement id already imported with the same figures
  is skipped, with different figures it is refused;
* adjustments are booked as deltas against what was already booked for the
  visit (:func:`app.reconcile.rules.adjustment_delta`), so any number of
  imports and re-runs converge on ``Σ adjustments = fund_computed - fund_paid``
  for every programme visit — never a double booking;
* an adjustment is placed on a statement under that statement's row lock (the
  same lock payment takes), so it can never land on a statement being paid at
  that moment; a visit and the patient's share are never changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from app.audit.operations import OPERATOR, append, audit_adjustments, audit_settlement_rows
from app.auth.access import require_clinic_visible
from app.auth.models import User
from app.database import unit_of_work
from app.errors import InvalidInput, NotFound, Problem, ProblemCode
from app.extensions import db
from app.insurance.client import Gateway, Unknown, Unreachable
from app.insurance.models import InsuranceExchange, InsuranceSettlement
from app.insurance.operations import Clock, exchange_for_clinic
from app.insurance.queries import (
    receipts_by_platform_key,
    settled_funds,
)
from app.insurance.rules import BadAnswer, Refused
from app.localtime import parse_month
from app.money import format_yuan
from app.places.models import Clinic, District
from app.places.queries import Scope, within
from app.policy.models import PolicyVersion
from app.policy.queries import version_in_force
from app.reconcile.daily import (
    STATUSES,
    DetailRow,
    Difference,
    detail_file,
    read_result,
    rows_of_settlement,
    totals,
)
from app.reconcile.files import FileProblem, ProblemLog, Survey, settlement_rows, survey
from app.reconcile.models import DailyDifference, FundFile, FundFinding, FundSettlement
from app.reconcile.rules import (
    DATE_TOLERANCE,
    Finding,
    MatchedBy,
    RecordedVisit,
    SettlementRow,
    adjustment_delta,
    reconcile,
)
from app.reconcile.schemas import COLUMNS, OPTIONAL_COLUMNS
from app.settlement.models import StatementAdjustment
from app.settlement.operations import AdjustmentLine, book_adjustment
from app.visits.models import Visit

# The stored columns: the file's, with the institution code named for what it is here.
_ROW_FIELDS = ("insurance_code", *COLUMNS[1:], *OPTIONAL_COLUMNS)
# Rows staged per statement, and stray rows read per statement: an import's
# memory does not grow with the file (issue 22 goal 3).
CHUNK_ROWS = 5000
_INSERT_SLICE = 100_000  # staged rows copied into fund_settlement per statement
_SETTLEMENT = cast(Table, FundSettlement.__table__)
_FINDING = cast(Table, FundFinding.__table__)
# The file's rows, staged while it is read: a temporary table of the import's
# transaction, so a refused file leaves nothing behind and no other import sees it.
_INCOMING = Table(
    "fund_settlement_incoming",
    MetaData(),
    Column("line", Integer, nullable=False),
    *(Column(name, _SETTLEMENT.c[name].type, nullable=False) for name in _ROW_FIELDS),
    prefixes=["TEMPORARY"],
)
# What matching reads: columns, not ORM objects (a city's month is a million of each).
_SETTLEMENT_COLUMNS = (
    FundSettlement.id,
    FundSettlement.line,
    *(getattr(FundSettlement, name) for name in _ROW_FIELDS),
)
_VISIT_COLUMNS = (
    Visit.id,
    Visit.clinic_id,
    Visit.month,
    Visit.receipt_number,
    Visit.patient_id_number,
    Visit.visit_date,
    Visit.programme,
    Visit.insured,
    Visit.voided_at,
    Visit.lines_total,
    Visit.deductible_applied,
    Visit.in_scope,
    Visit.fund,
)


@dataclass
class ClinicChange:
    """What an import changes for one clinic (shown by the preview before anything is written)."""

    clinic: str
    name: str
    findings: int = 0
    differing: int = 0  # findings other than matched
    adjustments: int = 0
    adjustment_total: int = 0  # fen


@dataclass
class ReconcileResult:
    district: str
    month: str
    file_id: int
    already_imported: bool = False
    rows: int = 0
    skipped_rows: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    adjustments: int = 0
    adjustment_total: int = 0  # fen: + the district owes more, − less
    preview: bool = False  # nothing of it was written
    clinics: dict[str, ClinicChange] = field(default_factory=dict)


class _RollBack(Exception):  # control flow: a preview ends its unit of work, rolled back
    def __init__(self, result: ReconcileResult) -> None:
        self.result = result


def _row_values(row: SettlementRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in _ROW_FIELDS}


def _district_clinics(session: Session, district: str) -> dict[str, Clinic]:
    clinics = session.scalars(
        within(select(Clinic), Scope(district)).where(Clinic.insurance_code.isnot(None))
    ).all()
    # A clinic without an insurance code cannot be settled by the fund at all.
    return {c.insurance_code or "": c for c in clinics}


def _recorded(visit: Any, clinic: Clinic, settled_fund: int | None = None) -> RecordedVisit:
    return RecordedVisit(
        visit_id=visit.id,
        clinic_code=clinic.code,
        insurance_code=clinic.insurance_code or "",
        receipt_number=visit.receipt_number,
        id_number=visit.patient_id_number,
        visit_date=visit.visit_date,
        programme=visit.programme,
        insured=visit.insured,
        voided=visit.voided_at is not None,
        lines_total=visit.lines_total,
        deductible_applied=visit.deductible_applied,
        in_scope=visit.in_scope,
        # Settled in real time: the backstop already moved by the platform's fund
        # (app.insurance), so the file is compared with that, never counted twice.
        fund=visit.fund if settled_fund is None else settled_fund,
    )


def _stored_row(row: Any, receipt: tuple[str, MatchedBy] | None = None) -> SettlementRow:
    """The stored row; ``receipt``: the visit its platform mdtrt_id or setl_id names, and which."""
    values = {n: getattr(row, n) for n in _ROW_FIELDS}
    if receipt is not None:
        values.update(mdtrt_id=receipt[0], by_platform_id=True, matched_by=receipt[1].value)
    return SettlementRow(line=row.line, **values)


def _tolerance(session: Session, district: str, month: str) -> dt.timedelta:
    """The policy's date tolerance for a match on ID number, date and amount (issue 21)."""
    parsed = parse_month(month)
    assert parsed is not None
    first = dt.date(parsed[0], parsed[1], 1)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    days = session.scalar(
        select(PolicyVersion.settlement_date_tolerance_days).where(
            PolicyVersion.id == version_in_force(district, last)
        )
    )
    return DATE_TOLERANCE if days is None else dt.timedelta(days=days)


def import_settlement_file(
    data: bytes | IO[bytes],
    source: str,
    district: str,
    month: str,
    actor: User | None,
    now: dt.datetime,
    preview: bool = False,
    chunk: int = CHUNK_ROWS,
) -> ReconcileResult:
    """Import one settlement detail file of ``district`` for ``month`` and reconcile the month.

    ``data``: the file's bytes, or a seekable binary stream of them (read twice:
    once for its digest and encoding, once for its rows).  ``preview``: the
    same import, matching and booking, in a transaction that is rolled back at
    its end — what the file would change, per clinic, with nothing written
    (issue 21; OpenEMR's ERA posting has this dry run).  ``chunk``: rows staged
    per statement.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        return _import(stream, source, district, month, actor, now, preview, chunk)
    except _RollBack as done:
        return done.result


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys): COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def _stage(
    session: Session,
    stream: IO[bytes],
    source: str,
    found: Survey,
    problems: ProblemLog,
    chunk: int,
) -> int:
    """Stage the file's rows in :data:`_INCOMING`, ``chunk`` at a time; how many were staged.

    A row is kept only until its chunk is written: memory does not grow with the file.
    """
    staged = 0
    batch: list[dict[str, Any]] = []
    for row in settlement_rows(stream, source, problems, found):
        batch.append({"line": row.line, **_row_values(row)})
        if len(batch) >= chunk:
            _bulk_insert(session, _INCOMING, batch)
            staged += len(batch)
            batch = []
    _bulk_insert(session, _INCOMING, batch)
    return staged + len(batch)


def _file_problems(session: Session, problems: ProblemLog, chunk: int) -> int:
    """Add what only the whole file shows to ``problems``; how many rows were imported before.

    A settlement id repeated in the file, and one imported before with other
    figures (a settlement id imported with the same figures is skipped).
    """
    staged = _INCOMING.c
    first = (
        select(staged.setl_id, func.min(staged.line).label("first"))
        .group_by(staged.setl_id)
        .having(func.count() > 1)
        .subquery()
    )
    repeated = (
        select(staged.line, first.c.first)
        .join(first, first.c.setl_id == staged.setl_id)
        .where(staged.line > first.c.first)
        .order_by(staged.line)
        .execution_options(yield_per=chunk)
    )
    for line, first_line in session.execute(repeated):
        problems.add(FileProblem(line, "setl_id", f"repeats line {first_line}"))
    stored = _SETTLEMENT.c
    joined = _INCOMING.join(_SETTLEMENT, stored.setl_id == staged.setl_id)
    same = and_(*(staged[name] == stored[name] for name in _ROW_FIELDS))
    differing = (
        select(staged.line)
        .select_from(joined)
        .where(~same)
        .order_by(staged.line)
        .execution_options(yield_per=chunk)
    )
    for (line,) in session.execute(differing):
        problems.add(
            FileProblem(line, "setl_id", "already imported with different figures (file mixed up?)")
        )
    return session.scalar(select(func.count()).select_from(joined).where(same)) or 0


def _import(
    stream: IO[bytes],
    source: str,
    district: str,
    month: str,
    actor: User | None,
    now: dt.datetime,
    preview: bool,
    chunk: int,
) -> ReconcileResult:
    problems = []
    if parse_month(month) is None:
        problems.append(Problem("month", "must be YYYY-MM", ProblemCode.BAD_MONTH))
    found = survey(stream, source)
    if found.size == 0:
        problems.append(Problem("file", "the file is empty", ProblemCode.EMPTY_FILE))
    if problems:
        raise InvalidInput(problems)
    with unit_of_work() as session:
        if session.get(District, district) is None:
            raise NotFound(
                Problem("district", f"unknown district {district!r}", ProblemCode.UNKNOWN_DISTRICT)
            )
        previous = session.scalar(
            select(FundFile).where(
                FundFile.district_code == district,
                FundFile.month == month,
                FundFile.sha256 == found.sha256,
            )
        )
        if previous is not None:
            return ReconcileResult(
                district, month, previous.id, already_imported=True, preview=preview
            )
        # Staged in a temporary table of this transaction: a refusal rolls it back
        # with everything else, and no other import sees it.
        _INCOMING.drop(session.connection(), checkfirst=True)
        _INCOMING.create(session.connection())
        file_problems = ProblemLog()
        rows = _stage(session, stream, source, found, file_problems, chunk)
        skipped = _file_problems(session, file_problems, chunk)
        if file_problems.total:
            raise file_problems.rejected(source)  # nothing written: the unit rolls back
        stored = FundFile(
            district_code=district,
            month=month,
            filename=source[-200:],
            sha256=found.sha256,
            rows=rows,
            imported_at=now,
            imported_by_id=actor.id if actor else None,
        )
        session.add(stored)
        session.flush()
        staged = _INCOMING.c
        last_line = session.scalar(select(func.max(staged.line))) or 0
        # In slices of lines: each statement stays well inside the statement timeout.
        for start in range(0, last_line + 1, _INSERT_SLICE):
            session.execute(
                insert(_SETTLEMENT).from_select(
                    ["file_id", "line", *_ROW_FIELDS],
                    select(
                        literal(stored.id, Integer), staged.line, *(staged[n] for n in _ROW_FIELDS)
                    ).where(
                        staged.line >= start,
                        staged.line < start + _INSERT_SLICE,
                        ~exists().where(_SETTLEMENT.c.setl_id == staged.setl_id),
                    ),
                )
            )
        _INCOMING.drop(session.connection())
        result = _reconcile_month(session, district, month, stored.id, actor, now, chunk)
        result.rows, result.skipped_rows = rows, skipped
        after = {
            "source": source[-200:],
            "sha256": found.sha256,
            "district": district,
            "month": month,
            "rows": rows,
            "new_rows": rows - skipped,
            "outcomes": result.outcomes,
            "adjustments": result.adjustments,
            "adjustment_total": result.adjustment_total,
        }
        append(
            session, actor or OPERATOR, "import", ("import", "fund_settlement"), None, after, now
        )
        audit_settlement_rows(session, actor or OPERATOR, stored.id, now)
        if preview:
            result.preview = True
            raise _RollBack(result)  # unit_of_work rolls everything back
        return result


def _reconcile_month(
    session: Session,
    district: str,
    month: str,
    file_id: int,
    actor: User | None,
    now: dt.datetime,
    chunk: int = CHUNK_ROWS,
) -> ReconcileResult:
    """Reconcile the district-month clinic by clinic, then the rows of no clinic of it.

    Every key the fund matches on lies within one institution code (SPEC §7),
    so each clinic's findings are the same as those of the whole month at once;
    only one clinic's visits and rows are held at a time.
    """
    clinics = _district_clinics(session, district)
    by_id = {c.id: c for c in clinics.values()}
    code_to_id = {c.code: c.id for c in clinics.values()}
    names = {c.code: c.name for c in clinics.values()}
    month_files = select(FundFile.id).where(
        FundFile.district_code == district, FundFile.month == month
    )
    tolerance = _tolerance(session, district, month)
    session.execute(
        delete(FundFinding).where(FundFinding.district_code == district, FundFinding.month == month)
    )
    result = ReconcileResult(district, month, file_id)
    counts: dict[str, int] = defaultdict(int)
    added: list[StatementAdjustment] = []

    def keep(findings: list[Finding], visit_months: dict[int, str]) -> None:
        _bulk_insert(
            session,
            _FINDING,
            [_finding_values(f, district, month, code_to_id, visit_months) for f in findings],
        )
        for finding in findings:
            counts[finding.outcome.value] += 1
            if finding.clinic_code is None:
                continue
            change = result.clinics.setdefault(
                finding.clinic_code, ClinicChange(finding.clinic_code, names[finding.clinic_code])
            )
            change.findings += 1
            change.differing += finding.outcome.value != "matched"

    for clinic in sorted(clinics.values(), key=lambda c: c.code):
        findings, visits = _reconcile_clinic(session, clinic, month, month_files, tolerance)
        keep(findings, {v.id: v.month for v in visits.values()})
        added += _book_adjustments(session, findings, visits, by_id, file_id, actor, now, result)
    # Rows of an institution code no clinic of the district has: each an unknown clinic.
    last = 0
    while True:
        stray = session.execute(
            select(*_SETTLEMENT_COLUMNS)
            .where(
                FundSettlement.file_id.in_(month_files),
                FundSettlement.insurance_code.not_in(list(clinics)),
                FundSettlement.id > last,
            )
            .order_by(FundSettlement.id)
            .limit(chunk)
        ).all()
        if not stray:
            break
        last = stray[-1].id
        keep(reconcile([], [_stored_row(r) for r in stray], tolerance), {})
    result.outcomes = dict(counts)
    # Every adjustment is in the audit log, after all statement locks (heads last).
    audit_adjustments(
        session, actor or OPERATOR, added, {c.id: c.code for c in clinics.values()}, now
    )
    return result


def _reconcile_clinic(
    session: Session,
    clinic: Clinic,
    month: str,
    month_files: Select[Any],
    tolerance: dt.timedelta,
) -> tuple[list[Finding], dict[int, Any]]:
    """One clinic's findings for the month, and the visits they name (by id)."""
    code = clinic.insurance_code or ""
    month_rows = session.execute(
        select(*_SETTLEMENT_COLUMNS).where(
            FundSettlement.file_id.in_(month_files), FundSettlement.insurance_code == code
        )
    ).all()
    # The visits: the month's own, and any (of another month) that a row names.
    visits = list(
        session.execute(
            select(*_VISIT_COLUMNS).where(Visit.clinic_id == clinic.id, Visit.month == month)
        ).all()
    )
    # A row of a visit settled in real time carries the platform's mdtrt_id (SPEC §7):
    # read as the receipt number it was registered with (ipt_otp_no).
    # A clinic that never settled in real time has no platform ids to look up.
    real_time = session.scalar(select(exists().where(InsuranceSettlement.clinic_id == clinic.id)))
    platform_ids = (
        receipts_by_platform_key(session, "mdtrt_id", [clinic.id], (r.mdtrt_id for r in month_rows))
        if real_time
        else {}
    )
    # Then the platform's setl_id (issue 21): the fund's second key.
    platform_setl_ids = (
        receipts_by_platform_key(session, "setl_id", [clinic.id], (r.setl_id for r in month_rows))
        if real_time
        else {}
    )

    def receipt_of(r: Any) -> tuple[str, MatchedBy] | None:
        by_mdtrt = platform_ids.get((clinic.id, r.mdtrt_id))
        if by_mdtrt is not None:
            return by_mdtrt, MatchedBy.MDTRT_ID
        by_setl = platform_setl_ids.get((clinic.id, r.setl_id))
        return (by_setl, MatchedBy.SETL_ID) if by_setl is not None else None

    named: set[str] = set()
    for r in month_rows:
        resolved = receipt_of(r)
        named.add(resolved[0] if resolved else r.mdtrt_id)
        if r.medins_setl_id:
            named.add(r.medins_setl_id)
    have = {v.receipt_number for v in visits}
    missing = sorted(named - have)
    for start in range(0, len(missing), 500):
        visits += session.execute(
            select(*_VISIT_COLUMNS).where(
                Visit.clinic_id == clinic.id, Visit.receipt_number.in_(missing[start : start + 500])
            )
        ).all()
    # The last key, the person, date and amount, may name a visit of a day of the
    # month before or after (a settlement days after an outage).
    have = {v.receipt_number for v in visits}
    parsed = parse_month(month)
    assert parsed is not None
    first = dt.date(parsed[0], parsed[1], 1)
    people = sorted(
        {
            r.certno
            for r in month_rows
            if receipt_of(r) is None and r.mdtrt_id not in have and r.medins_setl_id not in have
        }
    )
    # Those visits are candidates only: a finding for one only if a row matches it.
    candidates: list[Any] = []
    for start in range(0, len(people), 500):
        candidates += [
            v
            for v in session.execute(
                select(*_VISIT_COLUMNS).where(
                    Visit.clinic_id == clinic.id,
                    Visit.patient_id_number.in_(people[start : start + 500]),
                    Visit.visit_date >= first - tolerance,
                    Visit.visit_date < first + dt.timedelta(days=31) + tolerance,
                    Visit.month != month,
                )
            )
            if v.receipt_number not in have
        ]
    # Every row ever imported for these visits (a reversal may come in a later file),
    # under the receipt number or the platform's id of the visit.
    # The month's own visits by a join; the few others (and platform ids) by value.
    their_ids = {rc: m for (_, m), rc in platform_ids.items()}
    own = select(Visit.receipt_number).where(Visit.clinic_id == clinic.id, Visit.month == month)
    row_keys = [v.receipt_number for v in visits if v.month != month]
    row_keys += [their_ids[v.receipt_number] for v in visits if v.receipt_number in their_ids]
    rows: dict[int, Any] = {r.id: r for r in month_rows}
    earlier = (FundSettlement.insurance_code == code, FundSettlement.file_id.not_in(month_files))
    for column in (FundSettlement.mdtrt_id, FundSettlement.medins_setl_id):
        for r in session.execute(select(*_SETTLEMENT_COLUMNS).where(*earlier, column.in_(own))):
            rows.setdefault(r.id, r)
        for start in range(0, len(row_keys), 500):
            for r in session.execute(
                select(*_SETTLEMENT_COLUMNS).where(
                    *earlier, column.in_(row_keys[start : start + 500])
                )
            ):
                rows.setdefault(r.id, r)
    funds = settled_funds(session, [v.id for v in visits + candidates]) if real_time else {}
    findings = reconcile(
        [_recorded(v, clinic, funds.get(v.id)) for v in visits]
        + [replace(_recorded(v, clinic, funds.get(v.id)), candidate_only=True) for v in candidates],
        [_stored_row(r, receipt_of(r)) for r in rows.values()],
        tolerance,
    )
    return findings, {v.id: v for v in visits + candidates}


def _finding_values(
    finding: Finding,
    district: str,
    month: str,
    code_to_id: dict[str, int],
    visit_months: dict[int, str],
) -> dict[str, object]:
    return {
        "district_code": district,
        "month": month,
        "clinic_id": code_to_id.get(finding.clinic_code or ""),
        "visit_id": finding.visit_id,
        "visit_month": None if finding.visit_id is None else visit_months[finding.visit_id],
        "receipt_number": finding.receipt_number[:40],
        "outcome": finding.outcome.value,
        "reason": finding.reason.value,
        "fund_computed": finding.fund_computed,
        "fund_paid": finding.fund_paid,
        "backstopped": finding.backstopped,
        "setl_ids": ",".join(finding.setl_ids)[:400],
        "matched_by": finding.matched_by,
    }


def _book_adjustments(
    session: Session,
    findings: list[Finding],
    visits: dict[int, Any],
    clinics: dict[int, Clinic],
    file_id: int,
    actor: User | None,
    now: dt.datetime,
    result: ReconcileResult,
) -> list[StatementAdjustment]:
    """Book what each finding still owes; the lines booked (the caller audits them)."""
    candidates = [f for f in findings if f.backstopped and f.visit_id is not None]
    booked: dict[int, int] = {}
    ids = [f.visit_id for f in candidates if f.visit_id is not None]
    for start in range(0, len(ids), 1000):
        booked.update(
            session.execute(
                select(StatementAdjustment.visit_id, func.sum(StatementAdjustment.amount))
                .where(
                    StatementAdjustment.visit_id.in_(ids[start : start + 1000]),
                    StatementAdjustment.source == "fund",
                )
                .group_by(StatementAdjustment.visit_id)
            ).all()
        )
    added = []
    for finding in candidates:
        assert finding.visit_id is not None
        delta = adjustment_delta(finding, booked.get(finding.visit_id, 0))
        if delta == 0:
            continue
        visit = visits[finding.visit_id]
        adjustment = book_adjustment(
            session,
            clinics[visit.clinic_id],
            AdjustmentLine(
                visit_id=visit.id,
                receipt_number=visit.receipt_number,
                belongs_to=visit.month,
                source="fund",
                outcome=finding.outcome.value,
                reason=finding.reason.value,
                fund_computed=finding.fund_computed,
                fund_paid=finding.fund_paid,
                amount=delta,
                note=f"fund file {file_id}",
            ),
            actor,
            now,
        )
        added.append(adjustment)
        result.adjustments += 1
        result.adjustment_total += delta
        change = result.clinics[clinics[visit.clinic_id].code]
        change.adjustments += 1
        change.adjustment_total += delta
    return added


# --- daily reconciliation with the platform (issue 21; SPEC §9: 3201, 9101, 3202, 9102) ----


@dataclass
class DailyResult:
    day: dt.date
    checked: list[tuple[str, str, str]] = field(default_factory=list)  # clinic, insutype, rslt
    differences: int = 0  # newly found
    errors: list[str] = field(default_factory=list)


def _reversed_setl_ids(settlement_ids: list[int]) -> dict[int, str]:
    """The setl_id each reversed settlement had: read from its answered 2208 (it is cleared)."""
    out: dict[int, str] = {}
    for start in range(0, len(settlement_ids), 500):
        for settlement_id, request in db.session.execute(
            select(InsuranceExchange.settlement_id, InsuranceExchange.request).where(
                InsuranceExchange.settlement_id.in_(settlement_ids[start : start + 500]),
                InsuranceExchange.infno == "2208",
                InsuranceExchange.infcode == "0",
            )
        ):
            data = (json.loads(request).get("input") or {}).get("data") or {}
            if settlement_id is not None and data.get("setl_id"):
                out[settlement_id] = str(data["setl_id"])
    return out


def _day_rows(day: dt.date) -> dict[tuple[int, str], list[DetailRow]]:
    """This system's settlements of visits on ``day``, per clinic and insurance type.

    A settlement the clinic reversed (a voided visit) is two rows, the
    original and its negative, both flagged refunded.
    """
    out: dict[tuple[int, str], list[DetailRow]] = defaultdict(list)
    settlements = db.session.scalars(
        select(InsuranceSettlement)
        .join(
            Visit,
            (Visit.id == InsuranceSettlement.visit_id)
            & (Visit.month == InsuranceSettlement.visit_month),
        )
        .where(
            Visit.visit_date == day,
            InsuranceSettlement.status.in_(("settled", "reversed")),
        )
    ).all()
    reversed_ids = _reversed_setl_ids([r.id for r in settlements if r.status == "reversed"])
    for row in settlements:
        setl_id = row.setl_id if row.status == "settled" else reversed_ids.get(row.id)
        if not setl_id:
            continue  # reversed before it was ever settled: the platform has nothing
        amounts = json.loads(row.setlinfo or "{}")
        out[(row.clinic_id, row.insutype or "")] += rows_of_settlement(
            setl_id,
            row.mdtrt_id or "",
            row.psn_no or "",
            int(amounts.get("medfee_sumamt", 0)),
            int(row.fund or 0),
            reversed_=row.status == "reversed",
        )
    for rows in out.values():
        rows.sort(key=lambda r: (r.setl_id, r.negative))
    db.session.commit()
    return out


def run_daily(day: dt.date, gateway: Gateway, clock: Clock) -> DailyResult:
    """Check ``day`` with the platform per clinic and insurance type; list what differs.

    3201 with the day's totals; where the platform's differ, the detail file up
    (9101), 3202, the result file down (9102), and every row it does not agree
    on kept as a :class:`DailyDifference` (pending).  Every message is kept
    like the settlements' (app.insurance); a platform in trouble is reported
    per clinic and the rest goes on.  Running a day again adds nothing known.
    """
    result = DailyResult(day)
    for (clinic_id, insutype), rows in sorted(_day_rows(day).items()):
        clinic = db.session.get(Clinic, clinic_id)
        assert clinic is not None
        db.session.commit()
        medfee, fund, acct, count = totals(rows)
        code = clinic.insurance_code or ""
        span = {"stmt_begndate": f"{day}", "stmt_enddate": f"{day}", "insutype": insutype,
                "clr_type": "11", "setl_optins": clinic.district_code,
                "medfee_sumamt": format_yuan(medfee), "fund_pay_sumamt": format_yuan(fund),
                "acct_pay": format_yuan(acct), "fixmedins_setl_cnt": count}  # fmt: skip
        try:
            output = exchange_for_clinic(
                clinic, gateway, clock, "3201", {"data": {**span, "refd_setl_flag": "0"}}
            )
            verdict = str((output.get("stmtinfo") or {}).get("stmt_rslt", ""))
            result.checked.append((clinic.code, insutype, verdict))
            if verdict == "0":
                continue
            name = f"{code}-{day:%Y%m%d}-{insutype}.zip"
            upload = exchange_for_clinic(
                clinic, gateway, clock, "9101",
                {"fsUploadIn": {"in": base64.b64encode(detail_file(rows)).decode(),
                                "filename": name, "fixmedins_code": code}},
            )  # fmt: skip
            check = exchange_for_clinic(
                clinic, gateway, clock, "3202",
                {"data": {**span, "file_qury_no": upload.get("file_qury_no", "")}},
            )  # fmt: skip
            number = (check.get("fileinfo") or {}).get("file_qury_no", "")
            download = exchange_for_clinic(
                clinic, gateway, clock, "9102",
                {"fsDownloadIn": {"file_qury_no": number, "filename": f"result-{name}",
                                  "fixmedins_code": code}},
            )  # fmt: skip
            found = read_result(base64.b64decode(download.get("file") or ""))
        except (Unreachable, Unknown, Refused, BadAnswer, ValueError) as exc:
            result.errors.append(f"{clinic.code} {insutype}: {exc}")
            continue
        result.differences += _keep_differences(clinic, day, insutype, found, clock())
    return result


def _keep_differences(
    clinic: Clinic, day: dt.date, insutype: str, found: list[Difference], now: dt.datetime
) -> int:
    added = 0
    with unit_of_work() as session:
        known: set[tuple[str, bool]] = set(
            (setl_id, negative)
            for setl_id, negative in session.execute(
                select(DailyDifference.setl_id, DailyDifference.negative).where(
                    DailyDifference.clinic_id == clinic.id, DailyDifference.day == day
                )
            ).all()
        )
        for d in found:
            if (d.setl_id, d.negative) in known:
                continue
            known.add((d.setl_id, d.negative))
            row = DailyDifference(
                clinic_id=clinic.id, day=day, insutype=insutype, kind=d.kind.value,
                setl_id=d.setl_id, mdtrt_id=d.mdtrt_id, psn_no=d.psn_no, negative=d.negative,
                refd_setl_flag=d.refd_setl_flag, memo=d.memo, medfee=d.medfee, fund=d.fund,
                status="pending", found_at=now, reason="",
            )  # fmt: skip
            session.add(row)
            session.flush()
            append(session, OPERATOR, "daily_difference.found", ("daily_difference", row.id),
                   None, {"clinic": clinic.code, "day": f"{day}", "kind": d.kind.value,
                          "setl_id": d.setl_id, "fund": d.fund}, now)  # fmt: skip
            added += 1
    return added


def set_difference_status(
    difference_id: int, status: str, reason: str, actor: User, now: dt.datetime
) -> DailyDifference:
    """A person marks a difference 已核对 (checked) or 已平账 (resolved), or back; with why."""
    problems = []
    if status not in STATUSES:
        problems.append(
            Problem("status", f"must be one of {', '.join(STATUSES)}", ProblemCode.BAD_STATUS)
        )
    if not reason.strip():
        problems.append(Problem("reason", "say why", ProblemCode.REQUIRED))
    if len(reason) > 200:
        problems.append(Problem("reason", "200 characters at most", ProblemCode.TOO_LONG))
    if problems:
        raise InvalidInput(problems)
    with unit_of_work() as session:
        row = session.get(DailyDifference, difference_id, with_for_update=True)
        if row is None:
            raise NotFound(
                Problem("difference", f"no difference {difference_id}", ProblemCode.NOT_FOUND)
            )
        clinic = session.get(Clinic, row.clinic_id)
        assert clinic is not None
        require_clinic_visible(actor, clinic, "difference")
        before = {"status": row.status, "reason": row.reason}
        row.status, row.reason = status, reason.strip()
        row.changed_at, row.changed_by_id = now, actor.id
        append(session, actor, "daily_difference.status", ("daily_difference", row.id),
               before, {"status": row.status, "reason": row.reason}, now)  # fmt: skip
        return row
