"""Checks at recording (事前审核): the facts a visit's checks need, the verdict, the record.

Guarantees:

* the settings are the visit's policy version's ``[checks]``
  (:meth:`app.policy.models.PolicyVersion.to_policy`); a version without
  them, or a visit priced without a policy, is not checked and costs
  recording no query at all;
* otherwise the facts come from at most three queries: the items' catalogue
  columns; the person's unvoided visits of the window, at any clinic (one
  range scan of ``ix_visit_patient_date``); and, when a supplied drug is on
  the visit, the person's earlier supplies of it;
* :func:`screen` decides, :func:`enforce` refuses — a block with
  ``check_<rule>`` on ``lines[i].item`` or ``visit``, a warning without the
  doctor's reason with ``warning_reason_required`` listing each warning —
  before anything is written; :func:`store_checks` writes every hit with the
  visit (rule, severity, facts, reason, policy version), in its transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.catalog.models import CatalogItem
from app.errors import InvalidInput, Problem
from app.localtime import local_date
from app.money import format_quantity
from app.oversight.models import VisitCheck
from app.oversight.rules import (
    CheckInput,
    CheckLine,
    Hit,
    Rule,
    Severity,
    blocking,
    indication_prefixes,
    run_checks,
    supply_end,
    warnings,
)
from app.people.rules import parse_id_number
from app.visits.models import Visit, VisitLine

# How far back an earlier supply is looked for: longer courses than this are
# not dispensed at a village clinic (the catalogue's maxima are a month at most).
SUPPLY_LOOKBACK_DAYS = 90
REASON_MAX = 200


class _Priced(Protocol):
    item: str
    quantity: int


class QuoteLike(Protocol):
    """What :func:`screen` reads of a priced visit (app.visits.operations.Quote)."""

    @property
    def clinic(self) -> Any: ...
    @property
    def visited_at(self) -> dt.datetime: ...
    @property
    def id_number(self) -> str: ...
    @property
    def policy_version(self) -> Any: ...
    @property
    def injection(self) -> bool: ...
    @property
    def split(self) -> Any: ...
    @property
    def diagnoses(self) -> Sequence[tuple[str, str]]: ...


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

_ITEM = cast(Table, CatalogItem.__table__).c
_VISIT = cast(Table, Visit.__table__).c
_LINE = cast(Table, VisitLine.__table__).c
# The items' catalogue columns the checks read.
_CATALOGUE = select(
    _ITEM.code, _ITEM.name, _ITEM.max_per_visit, _ITEM.units_per_day, _ITEM.injectable,
    _ITEM.sex, _ITEM.min_age, _ITEM.max_age, _ITEM.indications,
).where(_ITEM.code.in_(bindparam("codes", expanding=True)))  # fmt: skip
# The person's unvoided visits of the window, at any clinic: one range scan of
# ix_visit_patient_date (patient_id_number, visit_date).
_RECENT = (
    select(_VISIT.visit_date, _VISIT.clinic_id)
    .where(
        _VISIT.patient_id_number == bindparam("person"),
        _VISIT.visit_date >= bindparam("since"),
        _VISIT.visit_date <= bindparam("day"),
        _VISIT.voided_at.is_(None),
    )
    .order_by(_VISIT.visit_date.desc())
)
# The person's earlier supplies of the visit's supplied drugs.
_SUPPLIES = (
    select(_LINE.item_code, _VISIT.visit_date, _LINE.quantity)
    .join_from(cast(Table, VisitLine.__table__), cast(Table, Visit.__table__),
               _VISIT.id == _LINE.visit_id)
    .where(
        _VISIT.patient_id_number == bindparam("person"),
        _VISIT.visit_date >= bindparam("since"),
        _VISIT.visit_date <= bindparam("day"),
        _VISIT.voided_at.is_(None),
        _LINE.item_code.in_(bindparam("codes", expanding=True)),
    )
)  # fmt: skip


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


def screen(session: Session, quote: QuoteLike, now: dt.datetime) -> Screening:
    """The checks of the quote's policy version on this visit; nothing written."""
    version = quote.policy_version
    policy = version.to_policy().oversight if version is not None else None
    if policy is None or not policy.checks_on:
        return NOTHING
    priced: Sequence[_Priced] = quote.split.lines
    codes = {line.item for line in priced}
    # Core statements on the connection, built once (no ORM execution per visit).
    connection = session.connection()
    catalogue = {row.code: row for row in connection.execute(_CATALOGUE, {"codes": sorted(codes)})}
    lines = [
        CheckLine(
            item=line.item,
            name=catalogue[line.item].name,
            quantity=line.quantity,
            max_per_visit=catalogue[line.item].max_per_visit,
            units_per_day=catalogue[line.item].units_per_day,
            injectable=bool(catalogue[line.item].injectable),
            sex=catalogue[line.item].sex,
            min_age=catalogue[line.item].min_age,
            max_age=catalogue[line.item].max_age,
            indications=indication_prefixes(catalogue[line.item].indications),
        )
        for line in priced
    ]
    day = local_date(quote.visited_at)
    person = quote.id_number
    ident = parse_id_number(person, "patient_id_number")

    recent: list[dt.date] = []
    same_day = 0
    if policy.severity(Rule.FREQUENT_VISITS) is not Severity.OFF or (
        policy.severity(Rule.SPLIT_VISIT) is not Severity.OFF
    ):
        # Only today's visits when the frequent-visits window is not set (split visits).
        since = day - dt.timedelta(days=max((policy.frequent_visits_days or 1) - 1, 0))
        for visit_date, clinic_id in connection.execute(
            _RECENT, {"person": person, "since": since, "day": day}
        ):
            recent.append(visit_date)
            same_day += visit_date == day and clinic_id == quote.clinic.id

    supply_until: dict[str, dt.date] = {}
    supplied = {line.item: line for line in lines if line.units_per_day}
    if supplied and policy.severity(Rule.EARLY_REFILL) is not Severity.OFF:
        for code, visit_date, quantity in connection.execute(
            _SUPPLIES,
            {
                "person": person,
                "since": day - dt.timedelta(days=SUPPLY_LOOKBACK_DAYS),
                "day": day,
                "codes": sorted(supplied),
            },
        ):
            earlier = replace(supplied[code], quantity=quantity)
            until = supply_end(earlier, visit_date)
            if until is not None and (code not in supply_until or until > supply_until[code]):
                supply_until[code] = until

    hits = run_checks(
        policy,
        CheckInput(
            lines=lines,
            injection=quote.injection,
            sex=ident.sex,
            birth_date=ident.birth_date,
            visit_date=day,
            visited_at=quote.visited_at,
            recorded_at=now,
            recent_visit_dates=recent,
            same_clinic_same_day=same_day,
            supply_until=supply_until,
            diagnoses=[code for code, _ in quote.diagnoses],
        ),
    )
    first_line: dict[str, int] = {}
    for i, line in enumerate(priced):
        first_line.setdefault(line.item, i)
    fields = tuple(
        f"lines[{first_line[h.subject]}].item" if h.subject in first_line else "visit" for h in hits
    )
    return Screening(tuple(hits), fields, version.id)


def enforce(screening: Screening, reason: str | None) -> Screening:
    """Refuse a blocked visit, or a warned one without a reason; the screening to store."""
    if screening.blocks:
        problems: dict[str, Problem] = {}
        for hit, field in zip(screening.hits, screening.fields, strict=True):
            if hit.severity is Severity.BLOCK and field not in problems:
                problems[field] = Problem(field, describe(hit), f"check_{hit.rule.value}")
        raise InvalidInput(list(problems.values()))
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput(
            Problem("warning_reason", f"at most {REASON_MAX} characters", "too_long")
        )
    if screening.warnings and reason is None:
        listed = [
            Problem(field, describe(hit), f"check_{hit.rule.value}")
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
                    "warning_reason_required",
                ),
                *seen.values(),
            ]
        )
    return replace(screening, reason=reason if screening.hits else None)


def screen_for_recording(
    session: Session, quote: QuoteLike, now: dt.datetime, reason: str | None
) -> Screening:
    """:func:`screen` then :func:`enforce`: what recording calls before it writes."""
    return enforce(screen(session, quote, now), reason)


def store_checks(session: Session, visit: Visit, screening: Screening) -> None:
    """Every hit with the visit, in the visit's transaction (no statement when none fired).

    The visit's ``checks`` are set to what was written, so the answer needs no read-back.
    """
    rows = [
        VisitCheck(
            visit_id=visit.id,
            visit_month=visit.month,
            rule=hit.rule.value,
            severity=hit.severity.value,
            subject=hit.subject,
            facts=json.dumps(dict(hit.facts), sort_keys=True, ensure_ascii=False),
            reason=screening.reason,
            policy_version_id=screening.policy_version_id,
        )
        for hit in screening.hits
    ]
    set_committed_value(visit, "checks", rows)
    if not rows:
        return
    session.execute(
        insert(VisitCheck),
        [
            {
                "visit_id": visit.id,
                "visit_month": visit.month,
                "rule": hit.rule.value,
                "severity": hit.severity.value,
                "subject": hit.subject,
                "facts": json.dumps(dict(hit.facts), sort_keys=True, ensure_ascii=False),
                "reason": screening.reason,
                "policy_version_id": screening.policy_version_id,
            }
            for hit in screening.hits
        ],
    )


def stored_check(row: VisitCheck, codes: Sequence[str]) -> tuple[Hit, str, str | None]:
    """A stored check as (hit, field, reason); ``codes`` are the visit's item codes in order."""
    hit = Hit(Rule(row.rule), Severity(row.severity), row.subject, json.loads(row.facts))
    where = f"lines[{codes.index(row.subject)}].item" if row.subject in codes else "visit"
    return hit, where, row.reason
