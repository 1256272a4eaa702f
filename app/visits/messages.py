"""What the doctor reads about a problem, chosen by its code — never by its English text.

One table maps :attr:`app.errors.Problem.code` (raised by the visit operations
and rules, the ID-number rules, the access checks, or a schema's shape check)
to translated words; the terminal pages and their JSON both use
:func:`problem_text`, so rewording a rule's English message changes no page.
A code not in the table falls back to a generic line quoting the detail.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.errors import DomainError, Problem
from app.visits.operations import MAX_LINES

MESSAGES: dict[str, LazyString] = {
    # the catalogue and the lines
    "unknown_item": _l("This item is not in the catalogue."),
    "no_price": _l("This item has no approved price on the visit date."),
    "negative_price": _l("This item has no approved price on the visit date."),
    "second_consultation": _l("Only one consultation fee per visit."),
    "consultation_once": _l("The consultation fee is always quantity 1."),
    "no_lines": _l("Add at least one item."),
    "too_many_lines": _l("At most %(n)s items per visit.", n=MAX_LINES),
    "not_number": _l("The quantity must be a number, e.g. 2 or 0.5."),
    "decimals": _l("At most three decimals."),
    "not_positive": _l("The quantity must be greater than zero."),
    "too_much": _l("The quantity is at most 9999.999."),
    "implausible": _l("This amount is implausibly large: check the quantity."),
    # the diagnoses
    "no_diagnosis": _l("This district requires a diagnosis: add at least one."),
    "too_many_diagnoses": _l("At most 5 diagnoses: the main one and four more."),
    "unknown_diagnosis": _l("This diagnosis code is not in the national list."),
    "diagnosis_not_valid": _l("This diagnosis code is not valid on the visit date."),
    "diagnosis_repeated": _l("This diagnosis is listed twice."),
    # the patient's ID number (app.people.rules.ID_PROBLEMS)
    "id_length": _l("The ID number must be 18 characters."),
    "id_shape": _l("The ID number is 17 digits followed by a digit or X."),
    "id_birth_date": _l("The birth date in this ID number does not exist."),
    "id_check_digit": _l("The check digit is wrong: please check the ID number."),
    "deceased": _l(
        "The register records this person as deceased: no visit can be recorded on or after "
        "the date of death."
    ),
    # the visit time
    "future": _l("The visit time cannot be in the future."),
    "too_early": _l("Visit time: write it as 2026-11-29 09:30."),
    "no_zone": _l("Visit time: write it as 2026-11-29 09:30."),
    "bad_time": _l("Visit time: write it as 2026-11-29 09:30."),
    # the clinic, the month, the user
    "month_frozen": _l("This month has been submitted for settlement; its visits cannot change."),
    "scope": _l("This is outside your clinic."),
    "role": _l("This is outside your clinic."),
    "unknown_clinic": _l("Unknown clinic."),
    # voiding
    "reason_required": _l("Please give the reason for voiding."),
    "reason_too_long": _l("At most 200 characters."),
    "voided": _l("This visit is already voided."),
    # the daily close
    "day_closed": _l("This day is already closed."),
    "future_day": _l("A day can be closed once it has begun."),
    # the checks at recording (app.oversight): the list itself is shown with the split
    "warning_reason_required": _l(
        "The checks warn about this visit: give your reason below to save it."
    ),
    "check_blocked": _l("The checks do not allow this visit (see the list by the split)."),
    # a visit captured offline (issue 25)
    "capture_future": _l(
        "The capture time is later than the server's clock: check the clock of this PC."
    ),
    "capture_before_visit": _l("The capture time is before the visit time."),
    "programme_differs": _l(
        "The register says this patient is not what the offline slip assumed "
        "(one-yuan programme or not)."
    ),
    "patient_differs": _l(
        "The server's amount for the patient differs from the offline slip "
        "(a price or the patient's standing changed)."
    ),
}


def problem_text(problem: Problem) -> str:
    """The doctor's words for a problem raised by an operation, a rule or a schema."""
    code = "check_blocked" if problem.code.startswith("check_") else problem.code
    text = MESSAGES.get(code)
    if text is not None:
        return str(text)
    return _("Please check this entry (%(detail)s).", detail=problem.message)


_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(item|quantity)$")
_DIAGNOSIS_FIELD = re.compile(r"^diagnoses(\[\d+\])?$")
_FORM_FIELDS = {
    "patient_id_number": "id_number",
    "id_number": "id_number",
    "lines": "lines",
    "visited_at": "visited_at",
    "injection": "injection",
    "reason": "reason",
    "warning_reason": "warning_reason",
    "offline.captured_at": "captured_at",
    "captured_at": "captured_at",
    "expected_patient": "expected_patient",
    "expected_programme": "expected_programme",
    # A check that fired on the visit as a whole is said in the form's banner.
    "visit": "_",
}


def form_field(problem_field: str) -> str:
    """Which input a problem belongs next to: ``lines[2].quantity`` → ``lines-2-quantity``."""
    m = _LINE_FIELD.match(problem_field)
    if m:
        return f"lines-{m.group(1)}-{m.group(2)}"
    if _DIAGNOSIS_FIELD.match(problem_field):
        return "diagnoses"
    return _FORM_FIELDS.get(problem_field, "_")


def field_errors(problems: DomainError | list[Problem]) -> dict[str, str]:
    """The first problem of each input, in the doctor's words, keyed by the input's name."""
    found = problems.problems if isinstance(problems, DomainError) else problems
    errors: dict[str, str] = {}
    for problem in found:
        errors.setdefault(form_field(problem.field), problem_text(problem))
    return errors
