"""``flask audit adopt``: bring rows written before the audit chain existed into it.

A database upgraded to the audit migration holds visits, statements and
statement history that no entry records, and ``flask audit verify`` reports
each as never audited.  Adopting appends one ``*.adopt`` entry per such row,
with its current state, by the operator, in one unit of work.

Guarantees: only rows that no entry names are adopted — a row whose state
differs from its last audited state is never adopted (that is a finding, not
history), so adopting cannot launder a tamper; running it twice adds nothing
the second time.  Statement history rows are adopted in id order, each entry
carrying the statement's current state, so the last one is what verify
compares.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.audit.operations import (
    DIGESTED_TABLES,
    adjustment_state,
    append,
    audit_settlement_rows,
    audit_table_digests,
)
from app.audit.queries import load_state
from app.audit.rules import (
    clinic_chain,
    event_state,
    statement_state,
    unaudited_statement_state,
    visit_state,
)
from app.database import unit_of_work
from app.extensions import db
from app.places.models import Clinic
from app.policy.models import PolicyVersion
from app.settlement.models import Statement, StatementAdjustment, StatementEvent
from app.visits.models import Visit, VisitLine


def adopt_unaudited(actor: str, now: dt.datetime) -> dict[str, int]:
    """Append an entry for every visit, statement and history row never audited."""
    counts = {"visits": 0, "statements": 0, "events": 0, "reference": 0}
    with unit_of_work() as session:
        audited = {
            (kind, key)
            for kind, key in session.execute(select(AuditEntry.object_type, AuditEntry.object_key))
        }
        audited_events: set[int] = set()
        for text in session.scalars(
            select(AuditEntry.after).where(AuditEntry.object_type == "statement")
        ):
            event = (load_state(text) or {}).get("event")
            if isinstance(event, dict):
                audited_events.add(int(event.get("id", 0)))
        clinics = session.execute(select(Clinic.id, Clinic.code))
        codes = {clinic_id: code for clinic_id, code in clinics}

        lines: dict[int, list[Any]] = defaultdict(list)
        for line in session.execute(
            select(VisitLine.__table__).order_by(VisitLine.visit_id, VisitLine.line_no)
        ):
            lines[line.visit_id].append(line)
        for visit in session.execute(select(Visit.__table__).order_by(Visit.id)):
            if ("visit", str(visit.id)) in audited:
                continue
            state = visit_state(visit, lines.get(visit.id, []))
            chain = clinic_chain(codes[visit.clinic_id])
            append(
                session, actor, "visit.adopt", ("visit", visit.id), None, state, now, chain=chain
            )
            counts["visits"] += 1

        events: dict[int, list[Any]] = defaultdict(list)
        for event in session.execute(select(StatementEvent.__table__).order_by(StatementEvent.id)):
            if event.id not in audited_events:
                events[event.statement_id].append(event)
        for statement in session.execute(select(Statement.__table__).order_by(Statement.id)):
            key = f"{codes[statement.clinic_id]}/{statement.month}"
            chain = clinic_chain(codes[statement.clinic_id])
            state = statement_state(statement)
            if ("statement", key) in audited:
                continue  # its history is the chain's; a stray row stays a finding
            obj = ("statement", key)
            history = events.get(statement.id, [])
            for event in history:
                after = {**state, "event": event_state(event)}
                append(session, actor, "statement.adopt", obj, None, after, now, chain=chain)
                counts["events"] += 1
            if not history and state == unaudited_statement_state(statement.month):
                continue  # a plain open row is what verify expects of an unaudited one
            if not history:
                append(session, actor, "statement.adopt", obj, None, state, now, chain=chain)
            counts["statements"] += 1
        counts["reference"] = _adopt_reference_data(session, actor, audited, codes, now)
    return counts


def _adopt_reference_data(
    session: Any,
    actor: str,
    audited: set[tuple[str, str]],
    codes: dict[int, str],
    now: dt.datetime,
) -> int:
    """Policy versions, adjustment lines, bulk tables and settlement files never audited."""
    count = 0
    for row in session.execute(select(PolicyVersion.__table__).order_by(PolicyVersion.id)):
        key = f"{row.district_code}/{row.effective_from.isoformat()}"
        if ("policy", key) not in audited:
            append(session, actor, "policy.adopt", ("policy", key), None, dict(row._mapping), now)
            count += 1
    adjustments = select(StatementAdjustment.__table__).order_by(StatementAdjustment.id)
    for a in session.execute(adjustments):
        if ("statement_adjustment", str(a.id)) not in audited:
            code = codes[a.clinic_id]
            obj = ("statement_adjustment", a.id)
            state = adjustment_state(a, code)
            append(
                session, actor, "adjustment.adopt", obj, None, state, now, chain=clinic_chain(code)
            )
            count += 1
    tables = tuple(name for name in DIGESTED_TABLES if ("table", name) not in audited)
    audit_table_digests(session, actor, tables, now)
    count += len(tables)
    settlement = db.metadata.tables["fund_settlement"]
    for file_id in sorted(set(session.scalars(select(settlement.c.file_id).distinct()))):
        if ("fund_file", str(file_id)) not in audited:
            audit_settlement_rows(session, actor, file_id, now)
            count += 1
    return count
