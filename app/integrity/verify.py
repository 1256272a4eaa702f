"""``flask audit verify``: re-walk every chain and hold the live rows against it.

Guarantees: :func:`verify` reports (and only reads)

* every break in a chain (:func:`app.audit.rules.chain_findings`): an edited,
  deleted, inserted or reordered entry, a head that disagrees with its entries;
* every entry whose action changed what it never changes
  (:func:`app.audit.rules.transition_findings`);
* every visit whose money, lines or void flag differ from its last audited
  state, or that was never audited, and every audited visit that is gone;
* every statement whose status, frozen figures or payment differ from its last
  audited state (a statement row no transition touched must still be a plain
  open row), and every statement history row that was edited, deleted or
  inserted outside the app;
* a pinned head (``chain #seq hash``, as a printed statement carries it) that
  the chain no longer holds, and likewise every head in the signed anchor file
  (:mod:`app.integrity.anchors`), checked by itself when one is configured;
* every policy version and every statement adjustment line that differs from
  its last audited state or was never audited; each bulk-written table that
  decides eligibility or prices (villages, clinics, residents, catalogue items
  and price periods) whose digest differs from the one its last import
  recorded; each fund settlement file whose stored rows differ from theirs;
* a visit whose patient, date, doctor or clinic changed (entries written
  before these were recorded are compared on money alone).

It sits above the visits and settlement areas (it reads their tables); the
writers in :mod:`app.audit.operations` sit below them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.audit.operations import (
    DIGESTED_TABLES,
    adjustment_state,
    settlement_rows_state,
    table_digest_state,
)
from app.audit.queries import chain_names, entries, heads
from app.audit.rules import (
    STATEMENT_FIGURES,
    VISIT_IDENTITY,
    Finding,
    State,
    chain_findings,
    event_state,
    normalise,
    state_findings,
    statement_state,
    transition_findings,
    unaudited_statement_state,
    visit_state,
)
from app.extensions import db
from app.integrity.anchors import anchor_findings
from app.places.models import Clinic
from app.policy.models import PolicyVersion
from app.settlement.models import Statement, StatementAdjustment, StatementEvent
from app.visits.models import Visit, VisitLine


@dataclass
class Verification:
    chains: int = 0
    entries: int = 0
    visits: int = 0
    statements: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        return (
            f"{self.chains} chains, {self.entries} entries, {self.visits} visits, "
            f"{self.statements} statements checked: "
            + ("clean" if self.clean else f"{len(self.findings)} finding(s)")
        )


def verify(
    pins: tuple[str, ...] = (), anchors: tuple[str, bytes | None] | None = None
) -> Verification:
    """Every finding; ``anchors`` is (anchor file, its key) when anchors are configured."""
    result = Verification()
    last: dict[tuple[str, str], State | None] = {}
    audited_events: dict[int, tuple[str, State]] = {}
    hashes: dict[tuple[str, int], str] = {}
    chain_heads = heads()
    for chain in chain_names():
        chain_entries = list(entries(chain))
        result.chains += 1
        result.entries += len(chain_entries)
        result.findings += chain_findings(chain, chain_entries, chain_heads.get(chain))
        for entry in chain_entries:
            where = f"{entry.object_type} {entry.object_key}"
            result.findings += transition_findings(where, entry, STATEMENT_FIGURES)
            last[(entry.object_type, entry.object_key)] = entry.after
            hashes[(chain, entry.seq)] = entry.hash
            event = (entry.after or {}).get("event")
            if entry.object_type == "statement" and isinstance(event, dict):
                audited_events[int(event.get("id", 0))] = (entry.object_key, event)
    result.findings += _pin_findings(pins, hashes)
    if anchors is not None:
        result.findings += anchor_findings(anchors[0], anchors[1], hashes)
    result.visits = _check_visits(last, result.findings)
    result.statements = _check_statements(last, audited_events, result.findings)
    _check_reference_data(last, result.findings)
    return result


def _pin_findings(pins: tuple[str, ...], hashes: dict[tuple[str, int], str]) -> list[Finding]:
    findings = []
    for pin in pins:
        parts = pin.replace("#", " ").split()
        if len(parts) != 3 or not parts[1].isdigit():
            findings.append(Finding(f"pin {pin!r}", "is not 'CHAIN #SEQ HASH'"))
            continue
        chain, seq, digest = parts[0], int(parts[1]), parts[2].lower()
        held = hashes.get((chain, seq))
        if held is None and seq == 0:
            continue
        if held != digest:
            findings.append(
                Finding(f"pin {chain} #{seq}", f"the chain holds {held or 'no such entry'}")
            )
    return findings


def _check_visits(last: dict[tuple[str, str], State | None], findings: list[Finding]) -> int:
    session = db.session()
    lines: dict[int, list[Any]] = defaultdict(list)
    for line in session.execute(
        select(VisitLine.__table__).order_by(VisitLine.visit_id, VisitLine.line_no)
    ):
        lines[line.visit_id].append(line)
    count = 0
    for visit in session.execute(select(Visit.__table__).order_by(Visit.id)):
        count += 1
        audited = last.pop(("visit", str(visit.id)), None)
        live = visit_state(visit, lines.pop(visit.id, []))
        if audited is not None and "patient_id_number" not in audited:
            for name in VISIT_IDENTITY:  # an entry from before identity was recorded
                live.pop(name, None)
        findings += state_findings(f"visit {visit.id} ({visit.receipt_number})", audited, live)
    for visit_id in sorted(lines):
        findings.append(Finding(f"visit {visit_id}", "has lines but no visit row"))
    for object_type, key in sorted(last):
        if object_type == "visit":
            findings += state_findings(f"visit {key}", last[(object_type, key)], None)
    return count


def _check_statements(
    last: dict[tuple[str, str], State | None],
    audited_events: dict[int, tuple[str, State]],
    findings: list[Finding],
) -> int:
    session = db.session()
    keys: dict[int, str] = {}
    count = 0
    rows = session.execute(
        select(Statement.__table__, Clinic.code.label("clinic_code"))
        .join(Clinic, Clinic.id == Statement.clinic_id)
        .order_by(Clinic.code, Statement.month)
    )
    for statement in rows:
        count += 1
        key = f"{statement.clinic_code}/{statement.month}"
        keys[statement.id] = key
        marker = ("statement", key)
        if marker in last:
            audited = dict(last.pop(marker) or {})
            audited.pop("event", None)
        else:
            audited = unaudited_statement_state(statement.month)
        findings += state_findings(f"statement {key}", audited, statement_state(statement))
    for object_type, key in sorted(last):
        if object_type == "statement":
            findings += state_findings(f"statement {key}", last[(object_type, key)], None)

    for event in session.execute(select(StatementEvent.__table__).order_by(StatementEvent.id)):
        key = keys.get(event.statement_id, f"statement id {event.statement_id}")
        where = f"statement {key} history row {event.id} ({event.action})"
        audited_key, audited = audited_events.pop(event.id, (key, {}))
        if audited and audited_key != key:
            findings.append(Finding(where, f"was audited as a row of {audited_key}"))
        findings += state_findings(where, audited or None, event_state(event))
    for event_id, (key, audited) in sorted(audited_events.items()):
        where = f"statement {key} history row {event_id} ({audited.get('action')})"
        findings.append(Finding(where, "was audited but is gone (deleted)"))
    return count


def _check_reference_data(
    last: dict[tuple[str, str], State | None], findings: list[Finding]
) -> None:
    """Policy versions and adjustment lines row by row; bulk tables and files by digest."""
    session = db.session()
    for row in session.execute(select(PolicyVersion.__table__).order_by(PolicyVersion.id)):
        key = f"{row.district_code}/{row.effective_from.isoformat()}"
        live = normalise(dict(row._mapping))
        audited = last.pop(("policy", key), None)
        if audited is not None:  # a column added since it was recorded is not compared
            live = {k: v for k, v in live.items() if k in audited}
        findings += state_findings(f"policy {key}", audited, live)
    for object_type, key in sorted(last):
        if object_type == "policy":
            findings += state_findings(f"policy {key}", last[(object_type, key)], None)

    codes = dict(session.execute(select(Clinic.id, Clinic.code)).all())
    for a in session.execute(
        select(StatementAdjustment.__table__).order_by(StatementAdjustment.id)
    ):
        audited = last.pop(("statement_adjustment", str(a.id)), None)
        live = normalise(adjustment_state(a, codes.get(a.clinic_id, "?")))
        findings += state_findings(f"statement adjustment {a.id}", audited, live)
    for object_type, key in sorted(last):
        if object_type == "statement_adjustment":
            findings += state_findings(
                f"statement adjustment {key}", last[(object_type, key)], None
            )

    for name in DIGESTED_TABLES:
        audited = last.get(("table", name))
        live = table_digest_state(session, name, _columns(name, audited))
        if audited is None and live["rows"] == 0:
            continue
        findings += [
            Finding(f"table {name}", f"{f.message} (rows edited, added or removed outside the app)")
            for f in state_findings(f"table {name}", audited, live)
        ]

    files = session.scalars(select(db.metadata.tables["fund_settlement"].c.file_id).distinct())
    for file_id in sorted(set(files)):
        audited = last.get(("fund_file", str(file_id)))
        live = settlement_rows_state(session, file_id, _columns("fund_settlement", audited))
        findings += state_findings(f"fund settlement file {file_id}", audited, live)


def _columns(table: str, audited: State | None) -> list[str] | None:
    """The columns a recorded digest covers that the table still has (None: all of them)."""
    named = (audited or {}).get("columns")
    if not isinstance(named, list):
        return None
    have = {c.name for c in db.metadata.tables[table].c}
    return [c for c in named if c in have]
