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
* :func:`screen` decides; recording, which receives it as a callable from
  the composition root (app.factory), refuses with
  :func:`app.checks.screening.enforce` — a block with ``check_<rule>`` on
  ``lines[i].item`` or ``visit``, a warning without the doctor's reason with
  ``warning_reason_required`` listing each warning — before anything is
  written, then writes every hit with the visit (rule, severity, facts,
  reason, policy version), in its transaction
  (:func:`app.visits.operations.store_checks`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from app.catalog.models import CatalogItem
from app.checks.rules import (
    CheckInput,
    CheckLine,
    Rule,
    Severity,
    indication_prefixes,
    run_checks,
    supply_end,
)
from app.checks.screening import NOTHING, Screening
from app.localtime import local_date
from app.people.rules import parse_id_number
from app.visits.models import Visit, VisitLine

# How far back an earlier supply is looked for: longer courses than this are
# not dispensed at a village clinic (the catalogue's maxima are a month at most).
SUPPLY_LOOKBACK_DAYS = 90


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


