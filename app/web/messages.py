"""The one table of what the user reads about a refused input, keyed by its problem code.

Guarantees:

* every :class:`app.errors.ProblemCode` has its words here, in English (the
  msgid) and Simplified Chinese (``app/web/translations``); a unit test checks
  both, so a new code cannot reach a page without words;
* a page or a page's JSON never shows an operation's English message: it looks
  the problem's code up with :func:`problem_words`, so rewording a rule's
  message changes no page;
* the words are templates: ``%(field)s`` is the field's label (or its name when
  it has none), ``%(detail)s`` the rule's own message (for the few codes whose
  meaning needs it), and the caller fills the rest (``%(n)s``, ``%(status)s``,
  ``%(month)s``, ``%(date)s``); a placeholder nobody filled reads as empty.

It sits in the web layer because the words are Flask-Babel strings; the codes
themselves live in the pure :mod:`app.errors`.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.errors import Problem, ProblemCode

_CHECKS = _l("The checks do not allow this visit (see the list by the split).")
_VISIT_TIME = _l("Visit time: write it as 2026-11-29 09:30.")
_NO_PRICE = _l("This item has no approved price on the visit date.")

C = ProblemCode
MESSAGES: dict[ProblemCode, LazyString] = {
    # --- any input ---
    C.BAD_SHAPE: _l("Please check this entry (%(detail)s)."),
    C.REQUIRED: _l("Please fill in: %(field)s."),
    C.TOO_LONG: _l("This is too long: %(field)s."),
    C.BAD_MONTH: _l("Check the %(field)s: write a month as 2026-11."),
    C.BAD_DATE: _l("Check the %(field)s: write a date as 2026-11-29."),
    C.BAD_AMOUNT: _l("The amount is not a valid yuan amount, e.g. 123.45."),
    C.NOT_NUMBER: _l("The quantity must be a number, e.g. 2 or 0.5."),
    C.DECIMALS: _l("At most three decimals."),
    C.NOT_POSITIVE: _l("The quantity must be greater than zero."),
    C.NOT_FOUND: _l("The record asked for does not exist."),
    C.UNKNOWN_DISTRICT: _l("Unknown district."),
    C.UNKNOWN_TOWN: _l("Unknown town."),
    C.UNKNOWN_CLINIC: _l("Unknown clinic."),
    # --- who may do what ---
    C.ROLE: _l("Your role cannot do this."),
    C.NO_CLINIC: _l("Only a clinic's doctor can do this."),
    C.SCOPE: _l("This is outside your area."),
    C.NOT_YOUR_CLINIC: _l("This is outside your clinic."),
    # --- users and tokens ---
    C.UNKNOWN_ROLE: _l("Unknown role: choose doctor, reviewer, finance or admin."),
    C.SCOPE_FOR_ROLE: _l(
        "This role has no such scope: a doctor has a clinic, a reviewer or finance user "
        "a district (and town), an admin neither."
    ),
    C.BAD_USERNAME: _l("A user name is 1 to 60 letters, digits, '.', '_' or '-'."),
    C.USERNAME_TAKEN: _l("This user name is already taken."),
    C.BAD_PRACTITIONER_CODE: _l(
        "The practitioner code is 1 to 30 letters and digits, e.g. D440114000123."
    ),
    C.PRACTITIONER_CODE_TAKEN: _l("This practitioner code is already another user's."),
    C.PASSWORD_TOO_SHORT: _l("The password must be at least 8 characters."),
    C.USER_DEACTIVATED: _l("This user is deactivated."),
    C.BAD_DAYS: _l("The number of days must be at least 1."),
    # --- files imported ---
    C.UNKNOWN_KIND: _l("Unknown kind of file."),
    C.FILE_UNREADABLE: _l("The file cannot be read (%(detail)s)."),
    C.EMPTY_FILE: _l("The file is empty."),
    C.BAD_TOML: _l("The policy file is not valid TOML (%(detail)s)."),
    C.BAD_ROW: _l("A line of the file is wrong (%(detail)s)."),
    C.MORE_PROBLEMS: _l("More lines of the file are wrong than are listed (%(detail)s)."),
    C.DATE_ORDER: _l("The dates are in the wrong order (%(detail)s)."),
    C.PLACE_MISMATCH: _l("This place does not belong to the place given (%(detail)s)."),
    C.MUST_BE_EMPTY: _l("Leave this empty when the person is not insured."),
    C.DIED_BEFORE_BIRTH: _l("The date of death is before the date of birth."),
    C.AGE_RANGE: _l("The maximum age is below the minimum age."),
    C.VERSION_USED: _l(
        "This policy version has already priced visits and cannot change: "
        "load the change as a new version."
    ),
    C.BEFORE_RECORDED_VISITS: _l(
        "Visits up to this date were already priced with the current policy: "
        "a new version must start later."
    ),
    # --- a visit's request: the catalogue and the lines ---
    C.BAD_KEY: _l("The request key must be 1 to 100 characters."),
    C.KEY_REUSED: _l("This request key was already used for a different request."),
    C.UNKNOWN_ITEM: _l("This item is not in the catalogue."),
    C.NO_PRICE: _NO_PRICE,
    C.NEGATIVE_PRICE: _NO_PRICE,
    C.NEGATIVE_CEILING: _l("This item has a negative price ceiling: check the catalogue."),
    C.BAD_RATIO: _l("This item's self-pay ratio is outside 0 to 1: check the catalogue."),
    C.SECOND_CONSULTATION: _l("Only one consultation fee per visit."),
    C.CONSULTATION_ONCE: _l("The consultation fee is always quantity 1."),
    C.NO_LINES: _l("Add at least one item."),
    C.TOO_MANY_LINES: _l("At most %(n)s items per visit."),
    C.TOO_MUCH: _l("The quantity is at most 9999.999."),
    C.IMPLAUSIBLE: _l("This amount is implausibly large: check the quantity."),
    C.TRACE_CODE_REPEATED: _l("This traceability code is already on this visit."),
    # the diagnoses
    C.NO_DIAGNOSIS: _l("This district requires a diagnosis: add at least one."),
    C.TOO_MANY_DIAGNOSES: _l("At most 5 diagnoses: the main one and four more."),
    C.UNKNOWN_DIAGNOSIS: _l("This diagnosis code is not in the national list."),
    C.DIAGNOSIS_NOT_VALID: _l("This diagnosis code is not valid on the visit date."),
    C.DIAGNOSIS_REPEATED: _l("This diagnosis is listed twice."),
    # the patient's ID number
    C.ID_LENGTH: _l("The ID number must be 18 characters."),
    C.ID_SHAPE: _l("The ID number is 17 digits followed by a digit or X."),
    C.ID_BIRTH_DATE: _l("The birth date in this ID number does not exist."),
    C.ID_CHECK_DIGIT: _l("The check digit is wrong: please check the ID number."),
    C.DECEASED: _l(
        "The register records this person as deceased: no visit can be recorded on or after "
        "the date of death."
    ),
    # the visit time, the month, voiding, the daily close
    C.FUTURE: _l("The visit time cannot be in the future."),
    C.TOO_EARLY: _VISIT_TIME,
    C.NO_ZONE: _VISIT_TIME,
    C.BAD_TIME: _VISIT_TIME,
    C.MONTH_FROZEN: _l("This month has been submitted for settlement; its visits cannot change."),
    C.REASON_REQUIRED: _l("Please give the reason for voiding."),
    C.REASON_TOO_LONG: _l("At most 200 characters."),
    C.VOIDED: _l("This visit is already voided."),
    C.DAY_CLOSED: _l("This day is already closed."),
    C.FUTURE_DAY: _l("A day can be closed once it has begun."),
    # the checks at recording: the list itself is shown with the split
    C.WARNING_REASON_REQUIRED: _l(
        "The checks warn about this visit: give your reason below to save it."
    ),
    C.CHECK_QUANTITY_OVER_MAX: _CHECKS,
    C.CHECK_FREQUENT_VISITS: _CHECKS,
    C.CHECK_SPLIT_VISIT: _CHECKS,
    C.CHECK_EARLY_REFILL: _CHECKS,
    C.CHECK_INJECTION_WITHOUT_INJECTABLE: _CHECKS,
    C.CHECK_INJECTABLE_WITHOUT_INJECTION: _CHECKS,
    C.CHECK_UNSUITED_ITEM: _CHECKS,
    C.CHECK_LATE_ENTRY: _CHECKS,
    C.CHECK_NO_DIAGNOSIS: _CHECKS,
    C.CHECK_OFF_INDICATION: _CHECKS,
    C.CHECK_UNSUITED_DIAGNOSIS: _CHECKS,
    # a visit captured offline (issue 25)
    C.CAPTURE_FUTURE: _l(
        "The capture time is later than the server's clock: check the clock of this PC."
    ),
    C.CAPTURE_BEFORE_VISIT: _l("The capture time is before the visit time."),
    C.PROGRAMME_DIFFERS: _l(
        "The register says this patient is not what the offline slip assumed "
        "(one-yuan programme or not)."
    ),
    C.PATIENT_DIFFERS: _l(
        "The server's amount for the patient differs from the offline slip "
        "(a price or the patient's standing changed)."
    ),
    # --- statements, payments and the review ---
    C.ILLEGAL_TRANSITION: _l("This statement is %(status)s; that step is not possible now."),
    C.MONTH_NOT_ENDED: _l(
        "%(month)s has not ended yet; it can be submitted from %(date)s (Beijing time)."
    ),
    C.FIGURES_CHANGED: _l(
        "The month changed while you were looking (a visit was recorded or voided). "
        "Check the figures again."
    ),
    C.FIGURES_MISMATCH: _l("A stored figure differs from the visits' sum (%(detail)s)."),
    C.PENDING_SETTLEMENT: _l("Visits of this month are still pending insurance settlement."),
    C.AMOUNT_MISMATCH: _l("The amount must equal the backstop due."),
    C.PAID_IN_FUTURE: _l("The payment date is in the future."),
    C.BEFORE_MONTH_END: _l("The payment date is before the end of the month."),
    C.BATCH_CHANGED: _l("The reviewed statements changed since you looked; check the list again."),
    C.NOTHING_TO_PAY: _l("There is no reviewed statement to pay."),
    C.ZERO_ADJUSTMENT: _l("An adjustment must move money: the amount cannot be 0."),
    C.WORKLIST_OPEN: _l("Every visit on the review worklist needs a finding first."),
    C.NOT_ON_WORKLIST: _l("This visit is not on the review worklist."),
    C.BAD_DISALLOWED_AMOUNT: _l(
        "The amount disallowed must be more than 0 and at most the visit's backstop."
    ),
    C.ALREADY_FOUND: _l("This visit already has a finding."),
    C.BAD_FINDING: _l("Choose accepted or disallowed."),
    C.NOT_SYSTEM_SUBMITTED: _l("Only a month the system submitted for you can be pulled back."),
    # --- receipts, stock, reconciliation, insurance ---
    C.ID_TAIL_MISMATCH: _l("These are not the last six characters of the ID number."),
    C.NEGATIVE_AMOUNT: _l("The amount must not be negative."),
    C.TOO_LARGE: _l("The amount is too large."),
    C.COUNTED: _l("This item was already counted on that day."),
    C.COUNTED_IN_FUTURE: _l("The count date is in the future."),
    C.BAD_STATUS: _l("Unknown status."),
    C.NOT_PENDING: _l("This settlement is not pending: it cannot be retried."),
    # --- the service itself ---
    C.UNAVAILABLE: _l("The database is unavailable; please try again shortly."),
}

# How a field is named inside a message ("Please fill in: …"); a field without a
# label is named as the request names it.
FIELD_LABELS = {
    "reason": _l("reason"),
    "warning_reason": _l("reason"),
    "note": _l("Note"),
    "clinic": _l("Clinic"),
    "display_name": _l("display name"),
    "insured_from": _l("insured from"),
    "reference": _l("payment reference"),
    "paid_on": _l("payment date"),
    "amount": _l("amount"),
    "month": _l("month"),
}


class _Blank(dict[str, Any]):
    """Template values where a placeholder no caller filled reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def problem_words(problem: Problem, **params: Any) -> str:
    """The user's words (Chinese by default) for ``problem``, chosen by its code.

    ``params`` fill the template's own placeholders (``n``, ``status``, ``month``,
    ``date``); ``field`` and ``detail`` are always supplied from the problem.
    """
    values = _Blank(params)
    values["field"] = str(FIELD_LABELS.get(problem.field, problem.field))
    values["detail"] = problem.message
    return str(MESSAGES[problem.code]) % values
