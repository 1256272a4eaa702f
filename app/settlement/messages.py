"""The settlement pages' words for a refused step, keyed by :attr:`Problem.code`.

A page never matches an operation's English message: it looks the problem's
stable code up here and shows the translated text (Simplified Chinese by
default).  A code without an entry shows the operation's own message, so a
new rule is never silent, only untranslated.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from app.errors import Problem

MESSAGES = {
    "illegal_transition": _l("This statement is %(status)s; that step is not possible now."),
    "month_not_ended": _l(
        "%(month)s has not ended yet; it can be submitted from %(date)s (Beijing time)."
    ),
    "figures_changed": _l(
        "The month changed while you were looking (a visit was recorded or voided). "
        "Check the figures again."
    ),
    "amount_mismatch": _l("The amount must equal the backstop due."),
    "required": _l("Please fill in: %(field)s."),
    "future": _l("The payment date is in the future."),
    "before_month_end": _l("The payment date is before the end of the month."),
    "batch_changed": _l("The reviewed statements changed since you looked; check the list again."),
    "none": _l("There is no reviewed statement to pay."),
    "scope": _l("This is outside your area."),
    "role": _l("Your role cannot do this."),
    "bad_amount": _l("The amount is not a valid yuan amount, e.g. 123.45."),
    "worklist_open": _l("Every visit on the review worklist needs a finding first."),
    "bad_disallowed_amount": _l(
        "The amount disallowed must be more than 0 and at most the visit's backstop."
    ),
    "already_found": _l("This visit already has a finding."),
    "not_system_submitted": _l("Only a month the system submitted for you can be pulled back."),
    "bad_finding": _l("Choose accepted or disallowed."),
    "bad_date": _l("Check the %(field)s: write a date as 2026-11-29."),
    "bad_month": _l("Check the %(field)s: write a month as 2026-11."),
}
# How a field is named inside a message ("Please fill in: …").
FIELD_LABELS = {
    "reason": _l("reason"),
    "reference": _l("payment reference"),
    "paid_on": _l("payment date"),
    "amount": _l("amount"),
    "month": _l("month"),
}


def message_for(problem: Problem, **params: Any) -> str | None:
    """The translated text for ``problem``, or None when its code has none.

    ``params`` fill the message's placeholders (``status``, ``month``,
    ``date``); the field's own label is always supplied as ``field``.
    """
    template = MESSAGES.get(problem.code)
    if template is None:
        return None
    values = {"status": "", "month": "", "date": "", **params}
    values["field"] = FIELD_LABELS.get(problem.field, problem.field)
    return str(template) % values
