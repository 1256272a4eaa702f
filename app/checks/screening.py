"""The verdict of the checks at recording: the hits, where each points, the refusal, the words.

:class:`Screening` is what the screen (app.oversight.checks, which queries the
person's visits) hands recording; :func:`enforce` refuses a blocked visit, or a
warned one without the doctor's reason, before anything is written; a stored
check reads back as the hit it was (:func:`stored_check`).  No database here:
recording (app.visits) and the API's answers use these without importing the
screen above them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from app.checks.rules import Hit, Rule, Severity, blocking, warnings
from app.errors import InvalidInput, Problem, ProblemCode
from app.money import format_quantity

REASON_MAX = 200


class StoredCheck(Protocol):
    """What :func:`stored_check` reads of a stored check (app.visits.models.VisitCheck)."""

    @property
    def rule(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def facts(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True)
class Screening:
    """The hits of one visit and where each points (``lines[i].item`` or ``visit``)."""

    hits: tuple[Hit, ...] = ()
    fields: tuple[str, ...] = ()
    policy_version_id: int | None = None
    reason: str | None = None

    @property
    def blocks(self) -> list[Hit]:
        return blocking(self.hits)

    @property
    def warnings(self) -> list[Hit]:
        return warnings(self.hits)


NOTHING = Screening()


def check_code(rule: Rule) -> ProblemCode:
    """The problem code a check's refusal carries: ``check_`` and the rule's value."""
    return ProblemCode(f"check_{rule.value}")


def describe(hit: Hit) -> str:
    """The hit in English (the API's message; pages say it in Chinese by its code)."""
    f = hit.facts
    match hit.rule:
        case Rule.QUANTITY_OVER_MAX:
            return (
                f"{hit.subject}: quantity {format_quantity(int(f['quantity']))} is over "
                f"the maximum of {format_quantity(int(f['maximum']))} per visit"
            )
        case Rule.FREQUENT_VISITS:
            return (
                f"visit {f['visits']} of this person in {f['days']} days (more than {f['maximum']})"
            )
        case Rule.SPLIT_VISIT:
            return "the person was already seen at this clinic today (a split visit)"
        case Rule.EARLY_REFILL:
            return (
                f"{hit.subject}: the last supply lasts until {f['until']} "
                f"({f['days_left']} day(s) left)"
            )
        case Rule.INJECTION_WITHOUT_INJECTABLE:
            return "an injection without an injectable item"
        case Rule.INJECTABLE_WITHOUT_INJECTION:
            return f"{hit.subject}: an injectable item without an injection"
        case Rule.UNSUITED_ITEM:
            if "item_sex" in f:
                return f"{hit.subject}: the item is for sex {f['item_sex']} only"
            if "min_age" in f:
                return f"{hit.subject}: the patient is {f['age']}, under {f['min_age']}"
            return f"{hit.subject}: the patient is {f['age']}, over {f['max_age']}"
        case Rule.NO_DIAGNOSIS:
            return "the visit has no diagnosis"
        case Rule.OFF_INDICATION:
            return (
                f"{hit.subject}: indicated for {f['indications']}, "
                f"not for the diagnoses {f['diagnoses']}"
            )
        case Rule.UNSUITED_DIAGNOSIS:
            if "diagnosis_sex" in f:
                return f"diagnosis {f['code']}: for sex {f['diagnosis_sex']} only"
            if "min_age" in f:
                return f"diagnosis {f['code']}: the patient is {f['age']}, under {f['min_age']}"
            return f"diagnosis {f['code']}: the patient is {f['age']}, over {f['max_age']}"
        case Rule.LATE_ENTRY:
            return f"recorded {f['hours']} hours after the visit (limit {f['limit']})"
    return hit.rule.value  # pragma: no cover (every rule is described above)


def enforce(screening: Screening, reason: str | None) -> Screening:
    """Refuse a blocked visit, or a warned one without a reason; the screening to store."""
    if screening.blocks:
        problems: dict[str, Problem] = {}
        for hit, field in zip(screening.hits, screening.fields, strict=True):
            if hit.severity is Severity.BLOCK and field not in problems:
                problems[field] = Problem(field, describe(hit), check_code(hit.rule))
        raise InvalidInput(list(problems.values()))
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput(
            Problem("warning_reason", f"at most {REASON_MAX} characters", ProblemCode.TOO_LONG)
        )
    if screening.warnings and reason is None:
        listed = [
            Problem(field, describe(hit), check_code(hit.rule))
            for hit, field in zip(screening.hits, screening.fields, strict=True)
        ]
        seen: dict[str, Problem] = {}
        for problem in listed:
            seen.setdefault(problem.field, problem)
        raise InvalidInput(
            [
                Problem(
                    "warning_reason",
                    "the visit has warnings; give the reason to record it: "
                    + "; ".join(p.message for p in listed),
                    ProblemCode.WARNING_REASON_REQUIRED,
                ),
                *seen.values(),
            ]
        )
    return replace(screening, reason=reason if screening.hits else None)


def stored_check(row: StoredCheck, codes: Sequence[str]) -> tuple[Hit, str, str | None]:
    """A stored check as (hit, field, reason); ``codes`` are the visit's item codes in order."""
    hit = Hit(Rule(row.rule), Severity(row.severity), row.subject, json.loads(row.facts))
    where = f"lines[{codes.index(row.subject)}].item" if row.subject in codes else "visit"
    return hit, where, row.reason
