"""Moving monthly statements through their life cycle: the only writers of statements.

Guarantees:

* every transition is one unit of work that takes the statement row lock for
  the clinic-month (:func:`app.periods.operations.lock_clinic_month`, ``SELECT …
  FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) — the same lock
  :func:`app.visits.operations.record_visit` and ``void_visit`` take — so a
  visit either commits before a submit and is counted, or sees the month
  frozen and is refused; the statement's stored figures always equal the sum
  of the visits that exist;
* on submit the figures are computed by SQL aggregation in the same
  transaction, after the lock, and stored on the row; on return they are
  cleared and the month reopens;
* every transition writes a :class:`StatementEvent` (actor, time, reason);
* a payment is recorded only for exactly the backstop due — the frozen
  backstop plus the statement's adjustment lines, read under the same lock
  that :func:`book_adjustment` takes, so an adjustment can never slip in
  between what finance saw and what is recorded as paid; the batch payment
  of all reviewed clinics is all-or-nothing (one bank batch, one reference)
  and pays exactly the count and total the finance user confirmed;
* an adjustment line is booked on the visit's own statement while it is
  unpaid, else on the clinic's next open one (:func:`statement_month_for`);
* credit-first (issue 11): in the submit's own transaction oversight flags
  the clinic-month and either trusts it — the system then reviews it, an
  event with no actor whose reason names the rule, its policy version and its
  inputs — or draws its review worklist; a review is refused while any
  worklist visit has no finding, and a disallowed visit is a review
  adjustment line of at most its backstop;
* the system submits (auto-submit, day D) exactly as a doctor would, with no
  actor and the rule as reason; only such a submission can be pulled back by
  the doctor, and only while it is unreviewed.

Each operation takes its actor and clock as arguments and writes nothing when
it refuses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.operations import (
    audit_adjustments,
    audit_batch_payment,
    audit_clinic_event,
    audit_statement,
)
from app.auth.access import can_see_district, require_clinic_visible, require_role
from app.auth.models import User
from app.checks.rules import auto_submit_due
from app.database import unit_of_work
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem, ProblemCode
from app.insurance.queries import platform_adjustment_total, unsettled_blocking
from app.localtime import local_date
from app.money import format_yuan
from app.oversight.models import FINDINGS, ReviewItem
from app.oversight.operations import SubmitDecision, decide_at_submit
from app.oversight.queries import open_items, open_statements_of, oversight_policy_for
from app.periods.operations import lock_clinic_month
from app.places.models import Clinic
from app.places.queries import Scope, clinic_by_code, within
from app.settlement.figures import FIGURE_FIELDS, Figures, rollup_figures
from app.settlement.models import Statement, StatementAdjustment, StatementEvent
from app.settlement.rules import (
    Action,
    Payment,
    Status,
    check_payment,
    clean_reason,
    next_status,
    require_month,
    require_month_ended,
    role_for,
    statement_month_for,
)
from app.stock.queries import stock_pointed


def _require_role(actor: User, action: Action) -> None:
    require_role(actor, role_for(action), doing=f"{action.value} a statement")


def _event(
    session: Session,
    statement: Statement,
    action: Action,
    source: str,
    actor: User | None,
    now: dt.datetime,
    reason: str = "",
) -> None:
    """Record a transition; ``actor`` None is the system, and ``reason`` names its rule."""
    event = StatementEvent(
        statement_id=statement.id,
        action=action.value,
        from_status=source,
        to_status=statement.status,
        actor_id=actor.id if actor else None,
        at=now,
        reason=reason,
    )
    session.add(event)
    audit_statement(session, actor or SYSTEM, action.value, statement, event, now)


# Who the audit log names when a rule, not a person, moved a statement.
SYSTEM = "system"


def _freeze_and_submit(
    session: Session,
    statement: Statement,
    actor: User | None,
    now: dt.datetime,
    expected: Figures | None = None,
    reason: str = "",
) -> SubmitDecision:
    """Freeze the figures and submit; oversight then trusts it (auto-review) or draws a worklist."""
    source = statement.status
    target = next_status(Action.SUBMIT, source)
    # Computed after the lock: every visit of the month has committed or
    # will be refused, so these are the figures of the visits that exist —
    # read from the day rollup, which each visit's own transaction keeps
    # equal to its visits (checked at commit on PostgreSQL); verify_statement
    # proves the frozen figures against the visits themselves.
    figures = rollup_figures([statement.clinic_id], statement.month).get(
        statement.clinic_id, Figures()
    )
    if expected is not None and expected != figures:
        raise Conflict(
            Problem(
                "figures",
                f"the month changed while you were looking: now {figures.visits} visits, "
                f"backstop {format_yuan(figures.fiscal)}; check the figures again",
                ProblemCode.FIGURES_CHANGED,
            )
        )
    for name in FIGURE_FIELDS:
        setattr(statement, name, getattr(figures, name))
    statement.status = target.value
    _event(session, statement, Action.SUBMIT, source, actor, now, reason)
    decision = decide_at_submit(session, statement, now, stock_pointed)
    if decision.decision.trusted:
        # Credit-first (信用优先): reviewed by the system in the same transaction.
        statement.status = next_status(Action.REVIEW, target).value
        _event(session, statement, Action.REVIEW, target.value, None, now, decision.reason())
    return decision


def submit_statement(
    clinic_code: str,
    month: str,
    actor: User,
    now: dt.datetime,
    expected: Figures | None = None,
) -> Statement:
    """The doctor confirms his clinic's month: its figures are frozen with it.

    ``expected`` are the figures the doctor was shown; when given and the
    visits have changed since (a visit saved from another terminal), nothing
    is submitted and the doctor is asked to look again.
    """
    require_month(month)
    _require_role(actor, Action.SUBMIT)
    require_month_ended(month, local_date(now))
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_clinic_visible(actor, clinic)
        statement = lock_clinic_month(session, clinic, month)
        _freeze_and_submit(session, statement, actor, now, expected)
    return statement


def review_statement(
    clinic_code: str, month: str, actor: User, now: dt.datetime, reason: str = ""
) -> Statement:
    """A reviewer of the clinic's district (or town) approves the submitted figures."""
    require_month(month)
    _require_role(actor, Action.REVIEW)
    reason = clean_reason(Action.REVIEW, reason)
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_clinic_visible(actor, clinic)
        statement = lock_clinic_month(session, clinic, month)
        source = statement.status
        target = next_status(Action.REVIEW, source)
        pending = open_items(session, statement.id)
        if pending:
            raise Conflict(
                Problem(
                    "worklist",
                    f"{pending} visits on the review worklist have no finding yet",
                    ProblemCode.WORKLIST_OPEN,
                )
            )
        statement.status = target.value
        _event(session, statement, Action.REVIEW, source, actor, now, reason)
    return statement


def return_statement(
    clinic_code: str, month: str, reason: str, actor: User, now: dt.datetime
) -> Statement:
    """A reviewer sends the month back to the doctor: it reopens, figures cleared."""
    require_month(month)
    _require_role(actor, Action.RETURN)
    reason = clean_reason(Action.RETURN, reason)
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_clinic_visible(actor, clinic)
        statement = lock_clinic_month(session, clinic, month)
        source = statement.status
        statement.status = next_status(Action.RETURN, source).value
        for name in FIGURE_FIELDS:
            setattr(statement, name, None)
        _event(session, statement, Action.RETURN, source, actor, now, reason)
    return statement


def pay_statement(
    clinic_code: str, month: str, payment: Payment, actor: User, now: dt.datetime
) -> Statement:
    """Finance records the payment of one clinic's backstop; only the exact amount due."""
    require_month(month)
    _require_role(actor, Action.PAY)
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_clinic_visible(actor, clinic)
        statement = lock_clinic_month(session, clinic, month)
        source = statement.status
        target = next_status(Action.PAY, source)
        assert statement.fiscal is not None  # frozen figures: ck_statement_frozen_figures_stored
        _refuse_unsettled(session, clinic, month)
        due = statement.fiscal + adjustments_due(session, clinic.id, month)
        problems = check_payment(payment, due, local_date(now), month)
        if problems:
            raise InvalidInput(problems)
        _record_payment(session, statement, target, payment, actor, now)
    return statement


def _record_payment(
    session: Session,
    statement: Statement,
    target: Status,
    payment: Payment,
    actor: User,
    now: dt.datetime,
) -> None:
    source = statement.status
    statement.paid_on = payment.paid_on
    statement.payment_reference = payment.reference.strip()
    statement.paid_amount = payment.amount
    assert statement.fiscal is not None
    statement.paid_adjustments = payment.amount - statement.fiscal
    statement.status = target.value
    _event(session, statement, Action.PAY, source, actor, now, statement.payment_reference)


@dataclass(frozen=True)
class BatchPayment:
    """What the finance user confirmed: this many clinics, this total, one transfer."""

    paid_on: dt.date
    reference: str
    count: int
    amount: int  # fen, the sum of the backstop due of every reviewed clinic


def pay_reviewed_statements(
    district_code: str, month: str, batch: BatchPayment, actor: User, now: dt.datetime
) -> list[Statement]:
    """Pay every reviewed statement of the district (or the actor's town) for a month.

    All or nothing: one bank batch carries one reference, so either every
    statement the finance user confirmed is marked paid or none is.  If a
    statement was reviewed or returned since the confirmation was shown, the
    count or total no longer match and nothing is written.
    """
    require_month(month)
    _require_role(actor, Action.PAY)
    if not can_see_district(actor, district_code):
        raise Forbidden(
            Problem(
                "district", f"district {district_code} is outside your scope", ProblemCode.SCOPE
            )
        )
    with unit_of_work() as session:
        query = within(
            select(Statement)
            .join(Clinic, Clinic.id == Statement.clinic_id)
            .where(Statement.month == month, Statement.status == Status.REVIEWED.value)
            .order_by(Statement.id)  # one lock order: concurrent batches cannot deadlock
            .with_for_update(of=Statement)
            .execution_options(populate_existing=True),
            Scope(district_code, actor.town_code),
        )
        statements = list(session.scalars(query))
        for statement in statements:
            clinic_row = session.get(Clinic, statement.clinic_id)
            assert clinic_row is not None
            _refuse_unsettled(session, clinic_row, month)
        due = {
            s.id: (s.fiscal or 0) + adjustments_due(session, s.clinic_id, month) for s in statements
        }
        total = sum(due.values())
        if not statements:
            raise Conflict(
                Problem(
                    "count", f"no reviewed statement to pay for {month}", ProblemCode.NOTHING_TO_PAY
                )
            )
        if len(statements) != batch.count or total != batch.amount:
            raise Conflict(
                Problem(
                    "amount",
                    f"the reviewed statements changed: now {len(statements)} clinics, "
                    f"{format_yuan(total)}; check them again",
                    ProblemCode.BATCH_CHANGED,
                )
            )
        today = local_date(now)
        for statement in statements:
            payment = Payment(batch.paid_on, batch.reference, due[statement.id])
            problems = check_payment(payment, due[statement.id], today, month)
            if problems:
                raise InvalidInput(problems)
            _record_payment(
                session, statement, next_status(Action.PAY, statement.status), payment, actor, now
            )
        audit_batch_payment(session, actor, district_code, month, statements, batch.reference, now)
    return statements


def adjustments_due(session: Session, clinic_id: int, month: str) -> int:
    """The sum of the adjustment lines on a clinic's statement of ``month`` (fen).

    The platform's settlements (real-time way) are lines too: read through
    :func:`app.insurance.queries.platform_adjustment_total`.
    """
    total = session.scalar(
        select(func.coalesce(func.sum(StatementAdjustment.amount), 0)).where(
            StatementAdjustment.clinic_id == clinic_id,
            StatementAdjustment.statement_month == month,
        )
    )
    return int(total or 0) + platform_adjustment_total(session, clinic_id, month)


def _refuse_unsettled(session: Session, clinic: Clinic, month: str) -> None:
    """SPEC §7: no payment while a visit is pending settlement, unless finance decided it."""
    pending = unsettled_blocking(clinic.id, month, session)
    if pending:
        raise Conflict(
            Problem(
                "statement",
                f"{pending} visits of {clinic.code} {month} are pending insurance settlement: "
                "wait for the platform, or decide them at the expected figures with a reason",
                ProblemCode.PENDING_SETTLEMENT,
            )
        )


@dataclass(frozen=True)
class AdjustmentLine:
    """What a caller (the fund reconciliation, a reviewer's finding) wants booked."""

    visit_id: int
    receipt_number: str
    belongs_to: str  # the visit's month
    source: str  # "fund" or "review"
    outcome: str
    reason: str
    fund_computed: int
    fund_paid: int
    amount: int
    note: str = ""


def book_adjustment(
    session: Session, clinic: Clinic, line: AdjustmentLine, actor: User | None, now: dt.datetime
) -> StatementAdjustment:
    """Book ``line`` inside the caller's unit of work, on the statement SPEC §7 names.

    The target statement's row is locked (the lock payment takes) and its
    status re-read under the lock; if it was paid in the meantime the line
    moves on to the next open statement.
    """
    if line.amount == 0:
        raise InvalidInput(
            Problem("amount", "an adjustment must move money", ProblemCode.ZERO_ADJUSTMENT)
        )
    while True:
        statuses = dict(
            session.execute(
                select(Statement.month, Statement.status).where(
                    Statement.clinic_id == clinic.id, Statement.month >= line.belongs_to
                )
            ).all()
        )
        month = statement_month_for(line.belongs_to, statuses)
        statement = lock_clinic_month(session, clinic, month)
        if statement.status == statuses.get(month, Status.OPEN.value):
            break
    adjustment = StatementAdjustment(
        clinic_id=clinic.id,
        statement_month=month,
        belongs_to=line.belongs_to,
        visit_id=line.visit_id,
        receipt_number=line.receipt_number,
        source=line.source,
        outcome=line.outcome,
        reason=line.reason,
        fund_computed=line.fund_computed,
        fund_paid=line.fund_paid,
        amount=line.amount,
        note=line.note,
        created_at=now,
        created_by_id=actor.id if actor else None,
    )
    session.add(adjustment)
    return adjustment


# --- issue 11: findings on the worklist, pull back, auto-submit ----------------------------


def record_finding(
    clinic_code: str,
    month: str,
    visit_id: int,
    finding: str,
    actor: User,
    now: dt.datetime,
    reason: str = "",
    amount: int | None = None,
) -> ReviewItem:
    """A reviewer's finding on one visit of a submitted statement's worklist.

    ``accepted`` just records; ``disallowed`` needs a reason and books a
    review adjustment line of minus ``amount`` (default: the visit's whole
    backstop, never more) on the statement, and the clinic's record counts it.
    A finding is final.
    """
    require_month(month)
    _require_role(actor, Action.REVIEW)
    if finding not in FINDINGS:
        raise InvalidInput(
            Problem("finding", "must be accepted or disallowed", ProblemCode.BAD_FINDING)
        )
    reason = (reason or "").strip()
    if len(reason) > 300:
        raise InvalidInput(Problem("reason", "at most 300 characters", ProblemCode.TOO_LONG))
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_clinic_visible(actor, clinic)
        statement = lock_clinic_month(session, clinic, month)
        if statement.status != Status.SUBMITTED.value:
            raise Conflict(
                Problem(
                    "status", f"the statement is {statement.status}", ProblemCode.ILLEGAL_TRANSITION
                )
            )
        item = session.scalar(
            select(ReviewItem).where(
                ReviewItem.statement_id == statement.id, ReviewItem.visit_id == visit_id
            )
        )
        if item is None:
            raise NotFound(
                Problem("visit", "this visit is not on the worklist", ProblemCode.NOT_ON_WORKLIST)
            )
        if item.finding is not None:
            raise Conflict(
                Problem("finding", "this visit already has a finding", ProblemCode.ALREADY_FOUND)
            )
        visit = item.visit
        if finding == "disallowed":
            if not reason:
                raise InvalidInput(Problem("reason", "a reason is required", ProblemCode.REQUIRED))
            taken = visit.fiscal if amount is None else amount
            if not 0 < taken <= visit.fiscal:
                raise InvalidInput(
                    Problem(
                        "amount",
                        f"must be more than 0 and at most the visit's backstop "
                        f"{format_yuan(visit.fiscal)}",
                        ProblemCode.BAD_DISALLOWED_AMOUNT,
                    )
                )
            line = AdjustmentLine(
                visit_id=visit.id,
                receipt_number=visit.receipt_number,
                belongs_to=visit.month,
                source="review",
                outcome="disallowed",
                reason="disallowed",
                fund_computed=visit.fund,
                fund_paid=visit.fund,
                amount=-taken,
                note=reason,
            )
            booked = book_adjustment(session, clinic, line, actor, now)
            item.amount = taken
            audit_adjustments(session, actor, [booked], {clinic.id: clinic.code}, now)
        item.finding = finding
        item.reason = reason
        item.reviewer_id = actor.id
        item.at = now
        after = {"visit": visit.id, "finding": finding, "amount": item.amount, "reason": reason}
        audit_clinic_event(
            session,
            actor,
            "review.finding",
            ("review_item", f"{clinic.code}/{month}/{visit.id}"),
            clinic.code,
            after,
            now,
        )
    return item


def pull_back_statement(clinic_code: str, month: str, actor: User, now: dt.datetime) -> Statement:
    """The doctor takes back a month the system submitted for him, while it is unreviewed."""
    require_month(month)
    _require_role(actor, Action.PULL_BACK)
    with unit_of_work() as session:
        clinic = clinic_by_code(clinic_code, missing=NotFound)
        require_clinic_visible(actor, clinic)
        statement = lock_clinic_month(session, clinic, month)
        source = statement.status
        target = next_status(Action.PULL_BACK, source)
        last_submit = session.scalar(
            select(StatementEvent)
            .where(StatementEvent.statement_id == statement.id, StatementEvent.action == "submit")
            .order_by(StatementEvent.id.desc())
            .limit(1)
        )
        if last_submit is None or last_submit.actor_id is not None:
            raise Conflict(
                Problem(
                    "status",
                    "only a statement the system submitted can be pulled back",
                    ProblemCode.NOT_SYSTEM_SUBMITTED,
                )
            )
        statement.status = target.value
        for name in FIGURE_FIELDS:
            setattr(statement, name, None)
        _event(session, statement, Action.PULL_BACK, source, actor, now)
    return statement


def auto_submit(district_code: str, today: dt.date, now: dt.datetime) -> list[str]:
    """Submit, as the system, every still-open statement of last month once day D has come.

    Each clinic in its own unit of work (a refusal of one does not stop the
    others); returns the codes of the clinics submitted.  Does nothing when
    the district has no auto-submit day or it has not come yet.
    """
    month = previous_month(today)
    settings = oversight_policy_for(district_code, today)
    if not auto_submit_due(month, today, settings.policy):
        return []
    reason = (
        f"auto_submit policy {settings.version or '-'}: day {settings.policy.auto_submit_day}, "
        f"today {today.isoformat()}"
    )
    done: list[str] = []
    for code in open_statements_of(district_code, month):
        with unit_of_work() as session:
            clinic = clinic_by_code(code, missing=NotFound)
            statement = lock_clinic_month(session, clinic, month)
            if statement.status != Status.OPEN.value:
                continue
            _freeze_and_submit(session, statement, None, now, reason=reason)
        done.append(code)
    return done


def previous_month(today: dt.date) -> str:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"
