"""The writers of the oversight tables: receipt codes and answers, flags, worklists.

Guarantees: a visit's code is created once (``INSERT … ON CONFLICT DO
NOTHING`` then read, so two printers at once get the same code); an answer
is stored with the visit it is about and the time, never with who gave it.

Flags: a clinic-month's stored flags are replaced as a whole, from figures
read in set-based SQL (:func:`app.oversight.queries.clinic_months`).  At
submission (:func:`decide_at_submit`, inside the submit's own unit of work
and under its statement lock) only the submitting clinic's flags are
replaced, so concurrent submissions never write the same rows; ``flask
oversight flags`` recomputes a whole district-month.  The trust decision and
the worklist drawn there are a pure function of the stored data and the
policy (seeded sample), so they can be recomputed and checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.operations import audit_clinic_event
from app.database import unit_of_work
from app.errors import InvalidInput, NotFound, Problem
from app.extensions import db
from app.oversight.codes import new_code
from app.oversight.models import (
    ClinicFlag,
    ReceiptCode,
    ReceiptFeedback,
    ReviewItem,
)
from app.oversight.queries import (
    clinic_months,
    late_or_complained,
    oversight_policy_for,
    past_statements,
)
from app.oversight.rules import (
    ClinicMonth,
    Flag,
    OversightPolicy,
    ReviewPolicy,
    SampleCandidate,
    TrustDecision,
    draw_sample,
    next_month_start,
    peer_flags,
    sample_seed,
    trust,
)
from app.periods.models import Statement
from app.places.models import Clinic, Town, Village
from app.visits.models import Visit


def receipt_code_for(visit_id: int, now: dt.datetime) -> str:
    """The visit's verification code, created the first time a receipt is shown."""
    existing = db.session.scalar(select(ReceiptCode.code).where(ReceiptCode.visit_id == visit_id))
    if existing is not None:
        return existing
    for _ in range(5):  # a collision of 60 random bits is astronomically rare; retry anyway
        try:
            with unit_of_work() as session:
                visit = session.get(Visit, visit_id)
                if visit is None:
                    raise NotFound(Problem("visit", f"no visit {visit_id}"))
                if session.get(ReceiptCode, visit_id) is None:
                    session.add(
                        ReceiptCode(
                            visit_id=visit_id,
                            visit_month=visit.month,
                            code=new_code(),
                            created_at=now,
                        )
                    )
        except IntegrityError:
            continue
        code = db.session.scalar(select(ReceiptCode.code).where(ReceiptCode.visit_id == visit_id))
        if code is not None:
            return code
    raise RuntimeError("could not create a receipt code")


# What a patient may say he paid, at most (fen): a village visit costs tens of yuan.
FEEDBACK_MOST = 100_000


def record_feedback(
    code: str,
    asked_more: bool,
    said_paid: int | None,
    now: dt.datetime,
    *,
    most: int = FEEDBACK_MOST,
) -> None:
    """Store a patient's answer about the receipt with ``code``: one answer per receipt.

    Answering again changes the answer (the receipt's one row is updated, and
    the change audited), so one address cannot stack complaints on a receipt;
    ``said_paid`` is at most ``most`` fen (a village visit costs tens of yuan).
    """
    if said_paid is not None and said_paid < 0:
        raise InvalidInput(Problem("said_paid", "must not be negative"))
    if said_paid is not None and said_paid > most:
        raise InvalidInput(Problem("said_paid", f"at most {most} fen", "too_large"))
    with unit_of_work() as session:
        row = session.scalar(select(ReceiptCode).where(ReceiptCode.code == code))
        if row is None:
            raise NotFound(Problem("code", "no receipt with this code"))
        said = said_paid if asked_more else None
        # The receipt's answer, locked: two answers at once leave one row, the later.
        answer = session.scalar(
            select(ReceiptFeedback)
            .where(
                ReceiptFeedback.visit_id == row.visit_id,
                ReceiptFeedback.visit_month == row.visit_month,
            )
            .with_for_update()
        )
        after: dict[str, Any] = {"visit": row.visit_id, "asked_more": asked_more, "said_paid": said}
        if answer is None:
            session.add(
                ReceiptFeedback(
                    visit_id=row.visit_id,
                    visit_month=row.visit_month,
                    asked_more=asked_more,
                    said_paid=said,
                    at=now,
                )
            )
        else:
            after["changed_from"] = {"asked_more": answer.asked_more, "said_paid": answer.said_paid}
            answer.asked_more, answer.said_paid, answer.at = asked_more, said, now
        # Who answered is never known or kept: the actor is the public check itself.
        audit_clinic_event(
            session,
            "public",
            "receipt.feedback",
            ("feedback", row.visit_id),
            row.visit.clinic.code,
            after,
            now,
        )


# --- flags ----------------------------------------------------------------------------------


def _text(value: Fraction) -> str:
    """An exact fraction as decimal text, 12 places (enough to sort and to show)."""
    with localcontext() as ctx:
        ctx.prec = 40
        number = Decimal(value.numerator) / Decimal(value.denominator)
    return str(number.quantize(Decimal("1e-12")))


def _store(
    session: Session, clinic_ids: dict[str, int], month: str, flags: list[Flag], now: dt.datetime
) -> None:
    session.execute(
        delete(ClinicFlag).where(
            ClinicFlag.month == month, ClinicFlag.clinic_id.in_(list(clinic_ids.values()))
        )
    )
    for f in flags:
        if f.clinic not in clinic_ids:
            continue
        session.add(
            ClinicFlag(
                clinic_id=clinic_ids[f.clinic],
                month=month,
                figure=f.figure.value,
                value=_text(f.value),
                median=_text(f.median),
                mad=_text(f.mad),
                score=_text(f.score),
                peers=f.peers,
                computed_at=now,
            )
        )


def recompute_flags(district_code: str, month: str, now: dt.datetime) -> list[Flag]:
    """Compute and store the flags of every clinic-month of a district (CLI, on demand)."""
    settings = oversight_policy_for(district_code, next_month_start(month))
    months = clinic_months(district_code, month, settings.policy)
    flags = _flags(list(months.values()), settings.policy)
    with unit_of_work() as session:
        _store(session, {m.clinic: cid for cid, m in months.items()}, month, flags, now)
    return flags


def _flags(months: list[ClinicMonth], policy: OversightPolicy) -> list[Flag]:
    """The peer flags under the policy's ``[flags]``; none when it has no such table."""
    return peer_flags(months, policy.flags) if policy.flags is not None else []


def district_of(session: Session, clinic: Clinic) -> str:
    code = session.scalar(
        select(Town.district_code)
        .join(Village, Village.town_code == Town.code)
        .where(Village.code == clinic.village_code)
    )
    assert code is not None
    return str(code)


# --- credit-first and the worklist ------------------------------------------------------


@dataclass(frozen=True)
class SubmitDecision:
    """What oversight decided when a statement was submitted, and on what."""

    decision: TrustDecision
    version: str
    flags: tuple[Flag, ...]
    worklist: int  # visits put on the review worklist (0 when trusted)

    def reason(self) -> str:
        """The rule, its version and its inputs, as stored with a system event."""
        why = ",".join(self.decision.reasons)
        return f"credit_first policy {self.version or '-'}: {why}"[:300]


def decide_at_submit(session: Session, statement: Statement, now: dt.datetime) -> SubmitDecision:
    """Flag the clinic's month against its peers, then trust it or draw its worklist.

    Runs inside the submit's unit of work, after its figures are frozen.
    """
    clinic = statement.clinic
    district = district_of(session, clinic)
    settings = oversight_policy_for(district, next_month_start(statement.month))
    policy = settings.policy
    months = clinic_months(district, statement.month, policy)
    all_flags = _flags(list(months.values()), policy)
    mine = [f for f in all_flags if f.clinic == clinic.code]
    _store(session, {clinic.code: clinic.id}, statement.month, mine, now)
    review = policy.review
    if review is None:
        return SubmitDecision(
            TrustDecision(False, ("review_off",)), settings.version, tuple(mine), 0
        )
    history = past_statements(session, clinic.id, statement.month, review.trusted_after_months)
    decision = trust(history, mine, review)
    count = 0
    if not decision.trusted:
        count = _draw_worklist(session, statement, district, settings.salt, policy, review)
    return SubmitDecision(decision, settings.version, tuple(mine), count)


def _draw_worklist(
    session: Session,
    statement: Statement,
    district: str,
    salt: str,
    policy: OversightPolicy,
    review: ReviewPolicy,
) -> int:
    pointed = late_or_complained(session, statement.clinic_id, statement.month, policy)
    visits = session.execute(
        select(Visit.id, Visit.total).where(
            Visit.clinic_id == statement.clinic_id,
            Visit.month == statement.month,
            Visit.voided_at.is_(None),
        )
    ).all()
    candidates = [SampleCandidate(v.id, v.total, pointed.get(v.id, ())) for v in visits]
    seed = sample_seed(district, statement.month, statement.clinic.code, salt)
    items = draw_sample(candidates, review, seed)
    existing = set(
        session.scalars(select(ReviewItem.visit_id).where(ReviewItem.statement_id == statement.id))
    )
    for item in items:
        if item.visit_id not in existing:  # a resubmission keeps the findings made
            why = ",".join(item.why)[:200]
            session.add(
                ReviewItem(
                    statement_id=statement.id,
                    visit_id=item.visit_id,
                    visit_month=statement.month,
                    why=why,
                )
            )
    return len(items)
