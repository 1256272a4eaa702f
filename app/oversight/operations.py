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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.operations import audit_clinic_event, record_access
from app.audit.rules import Acting
from app.checks.codes import new_code
from app.checks.rules import (
    STOCK_FIGURES,
    ClinicMonth,
    Flag,
    OversightPolicy,
    ReviewPolicy,
    SampleCandidate,
    TrustDecision,
    diagnosis_flags,
    draw_sample,
    id_tail_matches,
    next_month_start,
    own_visits_since,
    peer_flags,
    sample_seed,
    stock_flags,
    trust,
    worklist_month_for,
)
from app.database import unit_of_work
from app.errors import InvalidInput, NotFound, Problem, ProblemCode
from app.extensions import db
from app.localtime import local_date
from app.oversight.models import (
    ClinicFlag,
    ReceiptCode,
    ReceiptFeedback,
    ReviewItem,
    VisitDisowned,
)
from app.oversight.queries import (
    OwnVisits,
    clinic_diagnoses,
    clinic_months,
    late_or_complained,
    open_items,
    oversight_policy_for,
    own_visits,
    past_statements,
    receipt_patient,
)
from app.periods.models import Statement
from app.periods.operations import lock_clinic_month
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
                    raise NotFound(Problem("visit", f"no visit {visit_id}", ProblemCode.NOT_FOUND))
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
        raise InvalidInput(
            Problem("said_paid", "must not be negative", ProblemCode.NEGATIVE_AMOUNT)
        )
    if said_paid is not None and said_paid > most:
        raise InvalidInput(Problem("said_paid", f"at most {most} fen", ProblemCode.TOO_LARGE))
    with unit_of_work() as session:
        row = session.scalar(select(ReceiptCode).where(ReceiptCode.code == code))
        if row is None:
            raise NotFound(Problem("code", "no receipt with this code", ProblemCode.NOT_FOUND))
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
    session: Session,
    clinic_ids: dict[str, int],
    month: str,
    flags: list[Flag],
    now: dt.datetime,
    *,
    with_stock: bool,
) -> None:
    """Replace the clinic-months' stored flags; the stock flags only ``with_stock`` (the
    submission finds them; the district-wide recomputation cannot, and keeps them)."""
    kept = [] if with_stock else [f.value for f in STOCK_FIGURES]
    session.execute(
        delete(ClinicFlag).where(
            ClinicFlag.month == month,
            ClinicFlag.clinic_id.in_(list(clinic_ids.values())),
            ClinicFlag.figure.not_in(kept),
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
                diagnosis=f.diagnosis,
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
    flags = _flags(months, month, settings.policy)
    with unit_of_work() as session:
        _store(
            session,
            {m.clinic: cid for cid, m in months.items()},
            month,
            flags,
            now,
            with_stock=False,
        )
    return flags


def _flags(months: dict[int, ClinicMonth], month: str, policy: OversightPolicy) -> list[Flag]:
    """The peer flags under the policy's ``[flags]``, the clinic-months' figures and their
    diagnosis mix (per diagnosis code); none when the policy has no such table."""
    if policy.flags is None:
        return []
    figures = peer_flags(list(months.values()), policy.flags)
    mix = diagnosis_flags(clinic_diagnoses(months, month), policy.flags)
    return sorted(
        [*figures, *mix], key=lambda f: (-abs(f.score), f.clinic, f.figure, f.diagnosis or "")
    )


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


# The visits a drug-stock flag points at, with the flags' kinds (app.stock.queries.
# stock_pointed): passed down by the caller, since the stock area sits above this one.
StockPointed = Callable[[Clinic, str, Fraction | None], dict[int, list[str]]]


def decide_at_submit(
    session: Session, statement: Statement, now: dt.datetime, stock: StockPointed | None = None
) -> SubmitDecision:
    """Flag the clinic's month against its peers, then trust it or draw its worklist.

    Runs inside the submit's unit of work, after its figures are frozen.  A
    stock flag withholds trust and puts its visits on the worklist.
    """
    clinic = statement.clinic
    district = district_of(session, clinic)
    settings = oversight_policy_for(district, next_month_start(statement.month))
    policy = settings.policy
    months = clinic_months(district, statement.month, policy)
    all_flags = _flags(months, statement.month, policy)
    mine = [f for f in all_flags if f.clinic == clinic.code]
    far_above = policy.flags.stock_far_above if policy.flags is not None else None
    pointed = stock(clinic, statement.month, far_above) if stock is not None else {}
    stocked = stock_flags(clinic.code, pointed)
    _store(
        session,
        {clinic.code: clinic.id},
        statement.month,
        [*mine, *stocked],
        now,
        with_stock=True,
    )
    review = policy.review
    if review is None:
        return SubmitDecision(
            TrustDecision(False, ("review_off",)), settings.version, tuple(mine), 0
        )
    history = past_statements(session, clinic.id, statement.month, review.trusted_after_months)
    kinds = [kind for found in pointed.values() for kind in found]
    decision = trust(history, mine, review, pending=open_items(session, statement.id), stock=kinds)
    count = 0
    if not decision.trusted:
        count = _draw_worklist(session, statement, district, settings.salt, policy, review, pointed)
    return SubmitDecision(decision, settings.version, tuple(mine), count)


def _draw_worklist(
    session: Session,
    statement: Statement,
    district: str,
    salt: str,
    policy: OversightPolicy,
    review: ReviewPolicy,
    stock: dict[int, list[str]],
) -> int:
    pointed = late_or_complained(session, statement.clinic_id, statement.month, policy, stock)
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


# --- visits after a death -----------------------------------------------------------------


def list_visits_after_deaths(
    session: Session, deaths: Mapping[str, dt.date], actor: Acting, now: dt.datetime
) -> int:
    """Put every unvoided visit on or after a patient's date of death on a review worklist.

    ``deaths`` maps ID numbers to dates of death just recorded (an import of
    ``deaths.csv`` or ``residents.csv``), inside the caller's unit of work.
    Each visit goes on its clinic's statement of the visit's month while that
    can still be reviewed, else on the clinic's next one (whatever the month:
    :func:`worklist_month_for`), with ``why`` ``died:YYYY-MM-DD``; a visit
    already listed for a death is not listed twice.  Audited on each clinic's
    chain.  Answers how many visits were newly listed.
    """
    if not deaths:
        return 0
    found: list[Any] = []
    numbers = sorted(deaths)
    for start in range(0, len(numbers), 1000):
        rows = session.execute(
            select(
                Visit.id, Visit.month, Visit.clinic_id, Visit.visit_date, Visit.patient_id_number
            )
            .where(
                Visit.patient_id_number.in_(numbers[start : start + 1000]),
                Visit.voided_at.is_(None),
            )
            .order_by(Visit.clinic_id, Visit.id)
        ).all()
        found += [r for r in rows if r.visit_date >= deaths[r.patient_id_number]]
    listed: dict[int, list[int]] = {}
    for row in found:
        why = f"died:{deaths[row.patient_id_number].isoformat()}"
        if _put_on_worklist(session, row.id, row.month, row.clinic_id, why, "died:"):
            listed.setdefault(row.clinic_id, []).append(row.id)
    for clinic_id, visit_ids in listed.items():
        code = session.get_one(Clinic, clinic_id).code
        audit_clinic_event(
            session,
            actor,
            "review.listed_after_death",
            ("worklist", code),
            code,
            {"visits": visit_ids},
            now,
        )
    return sum(len(v) for v in listed.values())


def _put_on_worklist(
    session: Session, visit_id: int, month: str, clinic_id: int, why: str, marker: str
) -> bool:
    """Put one visit found after the fact on a worklist a reviewer will see.

    The statement of the visit's month while it is open or submitted, else
    the clinic's next such one (:func:`worklist_month_for`), locked.  False
    (nothing written) when the visit is already listed for ``marker`` (a
    ``why`` prefix) on any statement.
    """
    already = session.execute(
        select(ReviewItem.id).where(
            ReviewItem.visit_id == visit_id,
            ReviewItem.visit_month == month,
            ReviewItem.why.like(f"%{marker}%"),
        )
    ).first()
    if already is not None:
        return False
    clinic = session.get_one(Clinic, clinic_id)
    statuses = dict(
        session.execute(
            select(Statement.month, Statement.status).where(
                Statement.clinic_id == clinic.id, Statement.month >= month
            )
        ).all()
    )
    statement = lock_clinic_month(session, clinic, worklist_month_for(month, statuses))
    item = session.scalar(
        select(ReviewItem).where(
            ReviewItem.statement_id == statement.id, ReviewItem.visit_id == visit_id
        )
    )
    if item is None:
        session.add(
            ReviewItem(statement_id=statement.id, visit_id=visit_id, visit_month=month, why=why)
        )
    else:  # already sampled for another reason: this one is added to why
        item.why = f"{item.why},{why}"[:200]
    return True


def disown_visit(code: str, visit_id: int, now: dt.datetime) -> bool:
    """A resident's "我没有在这天看病" about one of his visits, through one of his receipts.

    The visit must be of the receipt's patient and unvoided; the answer is
    stored once (a second is a no-op: False), put on the review worklist (why
    ``disowned``) and audited on the visit's clinic's chain — who answered is
    never known or kept.
    """
    with unit_of_work() as session:
        via = session.execute(
            select(Visit.id, Visit.patient_id_number)
            .join(ReceiptCode, ReceiptCode.visit_id == Visit.id)
            .where(ReceiptCode.code == code)
        ).first()
        visit = session.get(Visit, visit_id)
        if (
            via is None
            or visit is None
            or visit.patient_id_number != via.patient_id_number
            or visit.voided_at is not None
        ):
            raise NotFound(
                Problem("visit", "no such visit of this receipt's patient", ProblemCode.NOT_FOUND)
            )
        exists = session.scalar(
            select(VisitDisowned.id).where(
                VisitDisowned.visit_id == visit.id, VisitDisowned.visit_month == visit.month
            )
        )
        if exists is not None:
            return False
        session.add(
            VisitDisowned(visit_id=visit.id, visit_month=visit.month, via_visit_id=via.id, at=now)
        )
        _put_on_worklist(session, visit.id, visit.month, visit.clinic_id, "disowned", "disowned")
        audit_clinic_event(
            session,
            "public",
            "receipt.disowned",
            ("disowned", visit.id),
            visit.clinic.code,
            {"visit": visit.id, "via": via.id},
            now,
        )
    return True


# --- a resident's own visits: the page's and the API's one path (issue 26 §2) ------------


def check_id_tail(code: str, id_tail: str, now: dt.datetime) -> bool | None:
    """Whether ``id_tail`` is the last six characters of the receipt's patient's ID number.

    None: no receipt has ``code``.  A wrong guess is recorded in the access log
    (``own_visits_denied``) against the person it was a guess at.
    """
    patient = receipt_patient(code)
    if patient is None:
        return None
    if id_tail_matches(patient[1], id_tail):
        return True
    record_access("public", patient[2], "own_visits_denied", None, now)
    return False


def read_own_visits(code: str, now: dt.datetime) -> OwnVisits | None:
    """The receipt's patient's visits of the last twelve months; the look-up is recorded
    in the access log (``own_visits``).  The caller has checked the six characters."""
    mine = own_visits(code, own_visits_since(local_date(now)))
    if mine is not None:
        record_access("public", mine.resident_id, "own_visits", None, now)
    return mine
