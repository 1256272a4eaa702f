"""Reading the audit chains: heads, entries, an object's last audited state."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditChain, AuditEntry, ResidentAccess
from app.audit.rules import Entry, Head, State, clinic_chain
from app.extensions import db


def last_audited(session: Session, object_type: str, object_key: str) -> State | None:
    """The ``after`` of the object's latest entry (None when never audited)."""
    text = session.scalar(
        select(AuditEntry.after)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_key == object_key)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return load_state(text)


def head(chain: str) -> Head | None:
    row = db.session.get(AuditChain, chain)
    return Head(row.chain, row.last_seq, row.last_hash) if row else None


def heads() -> dict[str, Head]:
    rows = db.session.scalars(select(AuditChain).order_by(AuditChain.chain))
    return {r.chain: Head(r.chain, r.last_seq, r.last_hash) for r in rows}


def clinic_head_label(clinic_code: str) -> str:
    """What a printed statement carries to pin its data: the clinic chain's head."""
    found = head(clinic_chain(clinic_code))
    return found.label() if found else f"{clinic_chain(clinic_code)} #0"


def chain_names() -> list[str]:
    """Every chain that has an entry or a head row."""
    names = set(db.session.scalars(select(AuditEntry.chain).distinct()))
    names |= set(db.session.scalars(select(AuditChain.chain)))
    return sorted(names)


def entries(chain: str) -> Iterator[Entry]:
    """The chain's entries in sequence order, streamed."""
    rows = db.session.execute(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq, AuditEntry.id)
    ).scalars()
    for row in rows:
        yield to_entry(row)


def to_entry(row: AuditEntry) -> Entry:
    return Entry(
        chain=row.chain,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_key=row.object_key,
        before=load_state(row.before),
        after=load_state(row.after),
        prev_hash=row.prev_hash,
        hash=row.hash,
        id=row.id,
    )


def load_state(text: str | None) -> State | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def resident_reads(
    resident_id: int | None = None,
    username: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 1000,
) -> Sequence[ResidentAccess]:
    """Reads of residents' records, newest first, filtered by resident, user and time."""
    query = select(ResidentAccess).order_by(ResidentAccess.at.desc(), ResidentAccess.id.desc())
    if resident_id is not None:
        query = query.where(ResidentAccess.resident_id == resident_id)
    if username is not None:
        query = query.where(ResidentAccess.username == username)
    if since is not None:
        query = query.where(ResidentAccess.at >= since)
    return db.session.scalars(query.limit(limit)).all()
