"""What the doctor reads about a problem, chosen by its code — never by its English text.

The words come from the one table, :mod:`app.web.messages`, keyed by
:attr:`app.errors.Problem.code` (raised by the visit operations and rules, the
ID-number rules, the access checks, or a schema's shape check); the terminal
pages and their JSON both use :func:`problem_text`, so rewording a rule's
English message changes no page.  This module places each problem next to its
input.
"""

from __future__ import annotations

import re

from app.errors import DomainError, Problem
from app.visits.operations import MAX_LINES
from app.web.messages import problem_words


def problem_text(problem: Problem) -> str:
    """The doctor's words for a problem raised by an operation, a rule or a schema."""
    return problem_words(problem, n=MAX_LINES)


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
