"""The statement life cycle as a pure transition table (SPEC §5).

Guarantees:

* a statement moves only ``open → submitted → reviewed → paid``, or back to
  ``open`` by ``return`` from ``submitted`` or ``reviewed`` — every other
  (action, state) pair is refused with a :class:`Conflict` naming the state the
  statement is in;
* each action belongs to one role (doctor submits, reviewer reviews and
  returns, finance pays); an administrator reads everything but moves nothing,
  so the person who confirms a month is never the one who approves or pays it;
* a month can be submitted only after it has ended in Asia/Shanghai, so a
  confirmed statement is never missing the visits of its last days;
* a payment is accepted only for exactly the backstop due, on a real date,
  with a reference;
* :func:`compare_figures` is how stored (frozen) figures are proven equal to
  the live SQL figures.

Nothing here imports Flask or SQLAlchemy or reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.errors import Conflict, InvalidInput, Problem, ProblemCode

# The figures are declared once, in app.ledger; these names stay importable here.
from app.ledger import COUNT_FIELDS as COUNT_FIELDS
from app.ledger import FIGURE_FIELDS as FIGURE_FIELDS
from app.ledger import MONEY_FIELDS as MONEY_FIELDS
from app.ledger import Figures as Figures
from app.localtime import parse_month

MAX_REASON = 300
MAX_REFERENCE = 60


class Status(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    PAID = "paid"


class Action(StrEnum):
    SUBMIT = "submit"
    REVIEW = "review"
    RETURN = "return"
    PAY = "pay"
    # The doctor takes back a statement the system submitted for him (issue 11 §4);
    # operations allow it only while the last submit was the system's.
    PULL_BACK = "pull_back"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status
    role: str
    reason_required: bool = False


TRANSITIONS: Mapping[Action, Transition] = {
    Action.SUBMIT: Transition(frozenset({Status.OPEN}), Status.SUBMITTED, "doctor"),
    Action.REVIEW: Transition(frozenset({Status.SUBMITTED}), Status.REVIEWED, "reviewer"),
    Action.RETURN: Transition(
        frozenset({Status.SUBMITTED, Status.REVIEWED}), Status.OPEN, "reviewer", True
    ),
    Action.PAY: Transition(frozenset({Status.REVIEWED}), Status.PAID, "finance"),
    Action.PULL_BACK: Transition(frozenset({Status.SUBMITTED}), Status.OPEN, "doctor"),
}


# A statement sent back to the clinic is open again (it can be fixed and
# resubmitted), but the clinic must see that it was returned, not "not submitted".
RETURNED = "returned"


def shown_status(status: str, last_action: str | None) -> str:
    """The status a page shows: ``returned`` for an open statement whose last step was a return."""
    if status == Status.OPEN.value and last_action == Action.RETURN.value:
        return RETURNED
    return status


def allowed_actions(status: Status | str, role: str) -> list[Action]:
    """The actions a user of ``role`` may take on a statement in ``status``."""
    return [
        action
        for action, t in TRANSITIONS.items()
        if Status(status) in t.sources and t.role == role
    ]


def next_status(action: Action, current: Status | str) -> Status:
    """The state after ``action``; a :class:`Conflict` naming ``current`` if illegal."""
    transition = TRANSITIONS[action]
    current = Status(current)
    if current not in transition.sources:
        allowed = " or ".join(sorted(s.value for s in transition.sources))
        raise Conflict(
            Problem(
                "status",
                f"the statement is {current.value}; {action.value} needs it {allowed}",
                ProblemCode.ILLEGAL_TRANSITION,
            )
        )
    return transition.target


def role_for(action: Action) -> str:
    """The one role that may take ``action`` (checked by :func:`app.auth.access.require_role`)."""
    return TRANSITIONS[action].role


def clean_reason(action: Action, reason: str | None) -> str:
    """The reason, trimmed; required for a return."""
    reason = (reason or "").strip()
    if TRANSITIONS[action].reason_required and not reason:
        raise InvalidInput(
            Problem(
                "reason",
                f"a reason is required to {action.value} a statement",
                ProblemCode.REQUIRED,
            )
        )
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            Problem("reason", f"at most {MAX_REASON} characters", ProblemCode.TOO_LONG)
        )
    return reason


def first_day_after(month: str) -> dt.date:
    year, mon = (int(part) for part in month.split("-"))
    return dt.date(year + (mon == 12), mon % 12 + 1, 1)


def require_month_ended(month: str, today: dt.date) -> None:
    """A month can be confirmed only once it is over (``today`` in Asia/Shanghai).

    Submitting freezes the month, so a statement submitted on the 20th would
    leave the visits of the 21st–31st with nowhere to go.
    """
    opens_on = first_day_after(month)
    if today < opens_on:
        raise Conflict(
            Problem(
                "month",
                f"{month} has not ended yet; it can be submitted from {opens_on.isoformat()} "
                "(Asia/Shanghai)",
                ProblemCode.MONTH_NOT_ENDED,
            )
        )


@dataclass(frozen=True)
class Payment:
    paid_on: dt.date
    reference: str
    amount: int  # fen


def check_payment(payment: Payment, due: int, today: dt.date, month: str) -> list[Problem]:
    """Problems with a payment of a statement whose backstop due is ``due`` fen."""
    problems: list[Problem] = []
    if payment.amount != due:
        problems.append(
            Problem(
                "amount",
                f"must equal the backstop due, {due // 100}.{due % 100:02d}",
                ProblemCode.AMOUNT_MISMATCH,
            )
        )
    if payment.paid_on > today:
        problems.append(Problem("paid_on", "is in the future", ProblemCode.PAID_IN_FUTURE))
    elif payment.paid_on < first_day_after(month):
        problems.append(
            Problem("paid_on", f"is before {month} ended", ProblemCode.BEFORE_MONTH_END)
        )
    reference = payment.reference.strip()
    if not reference:
        problems.append(
            Problem("reference", "a payment reference is required", ProblemCode.REQUIRED)
        )
    elif len(reference) > MAX_REFERENCE:
        problems.append(
            Problem("reference", f"at most {MAX_REFERENCE} characters", ProblemCode.TOO_LONG)
        )
    return problems


def compare_figures(stored: Mapping[str, int], live: Mapping[str, int]) -> list[Problem]:
    """Every figure where the stored statement and the visits disagree."""
    return [
        Problem(
            name,
            f"stored {stored[name]} but the visits sum to {live[name]}",
            ProblemCode.FIGURES_MISMATCH,
        )
        for name in live
        if stored.get(name) != live[name]
    ]


def require_month(month: str) -> str:
    if parse_month(month) is None:
        raise InvalidInput(
            Problem("month", f"not a month (YYYY-MM): {month!r}", ProblemCode.BAD_MONTH)
        )
    return month


def statement_month_for(month: str, statuses: Mapping[str, str]) -> str:
    """The statement an adjustment belonging to ``month`` goes on (SPEC §7).

    ``statuses`` maps the clinic's months (``YYYY-MM``) to their statement
    status; a month without a statement is open.  The adjustment goes on its
    own month's statement while that is unpaid, otherwise on the clinic's next
    *open* statement — never on a later one already submitted for review,
    whose figures a reviewer is checking.
    """
    if statuses.get(month, Status.OPEN.value) != Status.PAID.value:
        return month
    year, mon = int(month[:4]), int(month[5:7])
    while True:
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
        candidate = f"{year:04d}-{mon:02d}"
        if statuses.get(candidate, Status.OPEN.value) == Status.OPEN.value:
            return candidate
