"""Quoting, recording and voiding visits: the only writers of visits.

Guarantees:

* a quote and a recorded visit come from the same pricing path
  (:func:`_price_visit`), so the terminal's live split, the API quote and the
  saved visit agree to the fen;
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
    visit's own transaction, so a rolled-back visit gives its number back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.operations import audit_visit
from app.auth.access import require_clinic_visible, require_doctor_of
from app.auth.models import User
from app.catalog.models import CatalogItem, ItemPrice
from app.database import insert_missing, locked, unit_of_work
from app.errors import Conflict, InvalidInput, NotFound, Problem
from app.extensions import db
from app.localtime import local, local_date, month_of
from app.money import MoneyFormatError, parse_quantity
from app.people.models import Resident
from app.people.rules import parse_id_number
from app.periods.operations import lock_open_month
from app.places.models import Clinic, Village
from app.places.queries import clinic_by_code
from app.policy.models import PolicyVersion
from app.visits.models import FundUsage, IdempotencyKey, ReceiptCounter, Visit, VisitLine
from app.visits.queries import patient_standing
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
EARLIEST_VISIT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class LineRequest:
    item: str
    quantity: str


@dataclass(frozen=True)
class VisitRequest:
    """What a doctor's client sends; no prices, no shares."""

    clinic: str
    patient_id_number: str
    injection: bool = False
    lines: tuple[LineRequest, ...] = ()
    visited_at: dt.datetime | None = None

    def fingerprint(self) -> str:
        """A hash of the request as sent, to tell a retry from a different request."""
        body = {
            "clinic": self.clinic,
            "patient_id_number": self.patient_id_number.strip().upper(),
            "injection": self.injection,
            "lines": [[line.item, str(line.quantity)] for line in self.lines],
            "visited_at": self.visited_at.isoformat() if self.visited_at else None,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Quote:
    """A priced visit, not saved: everything needed to show or store it."""

    clinic: Clinic
    visited_at: dt.datetime
    id_number: str
    resident: Resident | None
    policy_version: PolicyVersion | None
    eligibility: Eligibility
    items: tuple[CatalogItem, ...]
    usage: YearUsage
    split: Split
    hukou_village: Village | None = field(default=None)
    injection: bool = False  # given, whether or not a fee is charged for it

    @property
    def year(self) -> int:
        return local(self.visited_at).year


# --- shared pricing path -------------------------------------------------------


def _visited_at(request: VisitRequest, now: dt.datetime) -> dt.datetime:
    visited_at = request.visited_at or now
    if visited_at.tzinfo is None:
        raise InvalidInput(Problem("visited_at", "needs a time zone, e.g. +08:00", "no_zone"))
    if visited_at > now:
        raise InvalidInput(Problem("visited_at", "is in the future", "future"))
    # A floor against typos (and against dates whose UTC or Shanghai reading
    # falls outside what datetime can hold); the programme itself began in 2016.
    if visited_at < EARLIEST_VISIT:
        raise InvalidInput(Problem("visited_at", "is before 2000", "too_early"))
    return visited_at.astimezone(dt.UTC)


def _line_inputs(
    session: Session, request: VisitRequest, day: dt.date
) -> tuple[list[LineInput], tuple[CatalogItem, ...]]:
    problems: list[Problem] = []
    if not request.lines:
        problems.append(Problem("lines", "a visit needs at least one line", "no_lines"))
    if len(request.lines) > MAX_LINES:
        problems.append(Problem("lines", f"at most {MAX_LINES} lines per visit", "too_many_lines"))
    codes = {line.item for line in request.lines}
    rows = session.execute(
        select(CatalogItem, ItemPrice)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(
            CatalogItem.code.in_(codes),
            ItemPrice.valid_from <= day,
            or_(ItemPrice.valid_to.is_(None), ItemPrice.valid_to >= day),
        )
    ).all()
    priced = {item.code: (item, price.price) for item, price in rows}
    known = set(session.scalars(select(CatalogItem.code).where(CatalogItem.code.in_(codes))))

    inputs: list[LineInput] = []
    items: list[CatalogItem] = []
    for i, line in enumerate(request.lines):
        try:
            quantity = parse_quantity(line.quantity)
        except MoneyFormatError as exc:
            problems.append(Problem(f"lines[{i}].quantity", str(exc), exc.code))
            quantity = 0
        if line.item not in known:
            problems.append(
                Problem(f"lines[{i}].item", f"unknown catalogue item {line.item!r}", "unknown_item")
            )
            continue
        if line.item not in priced:
            problems.append(
                Problem(
                    f"lines[{i}].item", f"{line.item} has no approved price on {day}", "no_price"
                )
            )
            continue
        item, unit_price = priced[line.item]
        items.append(item)
        inputs.append(
            LineInput(
                item=item.code,
                kind=Kind(item.kind),
                insurance_class=InsuranceClass(item.insurance_class),
                unit_price=unit_price,
                quantity=quantity,
            )
        )
    if problems:
        raise InvalidInput(problems)
    return inputs, tuple(items)


def _price_visit(
    session: Session,
    request: VisitRequest,
    clinic: Clinic,
    visited_at: dt.datetime,
    *,
    lock_usage: bool,
) -> Quote:
    id_number = parse_id_number(request.patient_id_number, "patient_id_number").value
    day = local_date(visited_at)
    lines, items = _line_inputs(session, request, day)
    standing = patient_standing(id_number, clinic, day)
    resident, version = standing.resident, standing.policy_version
    policy = version.to_policy() if version else None
    usage = YearUsage()
    if resident is not None:
        year = local(visited_at).year
        if lock_usage:
            insert_missing(
                session,
                FundUsage,
                {"resident_id": resident.id, "year": year, "fund_paid": 0, "deductible_used": 0},
            )
            row = locked(session, FundUsage, resident_id=resident.id, year=year)
        else:
            row = session.get(FundUsage, (resident.id, year))
        if row is not None:
            usage = YearUsage(fund_paid=row.fund_paid, deductible_used=row.deductible_used)
    split = compute_split(policy, standing.eligibility, lines, request.injection, usage)
    return Quote(
        clinic=clinic,
        visited_at=visited_at,
        id_number=id_number,
        resident=resident,
        policy_version=version,
        eligibility=standing.eligibility,
        items=items,
        usage=usage,
        split=split,
        hukou_village=standing.village,
        injection=request.injection,
    )


# --- use cases -------------------------------------------------------------------


def quote_visit(request: VisitRequest, actor: User, now: dt.datetime) -> Quote:
    """Price a visit without saving it (the terminal's live split, the API quote)."""
    session = db.session()
    clinic = clinic_by_code(request.clinic)
    require_clinic_visible(actor, clinic)
    return _price_visit(session, request, clinic, _visited_at(request, now), lock_usage=False)


def _replay(session: Session, actor: User, key: str, fingerprint: str) -> Visit | None:
    row = session.scalar(
        select(IdempotencyKey).where(
            and_(IdempotencyKey.user_id == actor.id, IdempotencyKey.key == key)
        )
    )
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            Problem("Idempotency-Key", "was already used with a different request", "key_reused")
        )
    return session.get(Visit, row.visit_id)


def record_visit(
    request: VisitRequest,
    actor: User,
    now: dt.datetime,
    idempotency_key: str | None = None,
) -> tuple[Visit, bool]:
    """Record a visit; ``(visit, created)``. A retried key returns the first visit."""
    fingerprint = request.fingerprint()
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 100:
        raise InvalidInput(Problem("Idempotency-Key", "must be 1 to 100 characters", "bad_key"))
    try:
        return _record(request, actor, now, idempotency_key, fingerprint)
    except IntegrityError:
        # Two submissions with one key raced past the check; the other one won.
        if idempotency_key is None:
            raise
        db.session.rollback()
        visit = _replay(db.session(), actor, idempotency_key, fingerprint)
        if visit is None:
            raise
        return visit, False


def _record(
    request: VisitRequest,
    actor: User,
    now: dt.datetime,
    idempotency_key: str | None,
    fingerprint: str,
) -> tuple[Visit, bool]:
    with unit_of_work() as session:
        if idempotency_key is not None:
            earlier = _replay(session, actor, idempotency_key, fingerprint)
            if earlier is not None:
                return earlier, False
        clinic = clinic_by_code(request.clinic)
        require_doctor_of(actor, clinic)
        visited_at = _visited_at(request, now)
        month = month_of(visited_at)
        lock_open_month(session, clinic, month, "visited_at")
        quote = _price_visit(session, request, clinic, visited_at, lock_usage=True)
        split = quote.split
        year = quote.year

        insert_missing(
            session, ReceiptCounter, {"clinic_id": clinic.id, "year": year, "last_seq": 0}
        )
        counter = locked(session, ReceiptCounter, clinic_id=clinic.id, year=year)
        assert counter is not None
        counter.last_seq += 1

        visit = Visit(
            clinic_id=clinic.id,
            resident_id=quote.resident.id if quote.resident else None,
            patient_id_number=quote.id_number,
            visited_at=visited_at,
            visit_date=local_date(visited_at),
            month=month,
            year=year,
            receipt_seq=counter.last_seq,
            receipt_number=f"{clinic.code}-{year}-{counter.last_seq:06d}",
            policy_version_id=quote.policy_version.id if quote.policy_version else None,
            programme=split.programme,
            insured=split.insured,
            reasons=",".join(quote.eligibility.reasons),
            injection=request.injection,
            lines_total=split.lines_total,
            registration=split.registration,
            injection_fee=split.injection,
            in_scope=split.in_scope,
            self_pay=split.self_pay,
            fund_base=split.fund_base,
            deductible_applied=split.deductible_applied,
            fund=split.fund,
            fiscal=split.fiscal,
            copay=split.copay,
            patient=split.patient,
            total=split.total,
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        for no, (priced, item) in enumerate(zip(split.lines, quote.items, strict=True), start=1):
            visit.lines.append(
                VisitLine(
                    line_no=no,
                    item_id=item.id,
                    item_code=item.code,
                    item_name=item.name,
                    kind=item.kind,
                    unit=item.unit,
                    insurance_class=item.insurance_class,
                    quantity=priced.quantity,
                    unit_price=priced.unit_price,
                    amount=priced.amount,
                    in_scope=priced.in_scope,
                    self_pay=priced.self_pay,
                    fund_base=priced.fund_base,
                )
            )
        session.add(visit)
        if quote.resident is not None and (split.fund or split.deductible_applied):
            usage = session.get(FundUsage, (quote.resident.id, year))
            assert usage is not None  # created and locked by _price_visit
            usage.fund_paid = split.usage_after.fund_paid
            usage.deductible_used = split.usage_after.deductible_used
        session.flush()
        audit_visit(session, actor, "visit.record", visit, now)
        if idempotency_key is not None:
            session.add(
                IdempotencyKey(
                    user_id=actor.id,
                    key=idempotency_key,
                    request_hash=fingerprint,
                    visit_id=visit.id,
                    created_at=now,
                )
            )
            session.flush()
    return visit, True


def void_visit(visit_id: int, reason: str, actor: User, now: dt.datetime) -> Visit:
    """Void a visit of an open month; its fund share and deductible go back."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            Problem("reason", "a reason is required to void a visit", "reason_required")
        )
    if len(reason) > 200:
        raise InvalidInput(Problem("reason", "at most 200 characters", "reason_too_long"))
    with unit_of_work() as session:
        visit = session.get(Visit, visit_id)
        if visit is None:
            raise NotFound(Problem("visit", f"no visit {visit_id}", "not_found"))
        clinic = visit.clinic
        require_doctor_of(actor, clinic, "visit")
        lock_open_month(session, clinic, visit.month, "visit")
        visit = locked(session, Visit, id=visit_id)
        assert visit is not None
        if visit.voided_at is not None:
            raise Conflict(
                Problem("visit", f"visit {visit.receipt_number} is already voided", "voided")
            )
        if visit.resident_id is not None and (visit.fund or visit.deductible_applied):
            usage = locked(session, FundUsage, resident_id=visit.resident_id, year=visit.year)
            assert usage is not None
            usage.fund_paid -= visit.fund
            usage.deductible_used -= visit.deductible_applied
        visit.voided_at = now
        visit.voided_by_id = actor.id
        visit.void_reason = reason
        audit_visit(session, actor, "visit.void", visit, now)
    return visit
