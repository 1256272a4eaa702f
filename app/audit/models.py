"""The audit chains: append-only entries and one head row per chain.

Guarantees (with :mod:`app.audit.operations`, the only writer):

* ``(chain, seq)`` is unique and each chain's sequence starts at 1 with no
  gaps; ``hash`` is the SHA-256 of the entry's canonical form, which includes
  the previous entry's hash (:mod:`app.audit.rules`);
* the head row holds the last sequence and hash of its chain; writers lock it,
  so entries of one chain are appended one at a time in sequence order;
* on PostgreSQL a trigger refuses every UPDATE, DELETE and TRUNCATE of
  ``audit_entry`` (migration ``b3c9e1f2a4d5``): entries are never changed,
  corrections are new entries.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigId, UTCDateTime
from app.extensions import Model


class AuditChain(Model):
    """The head of one chain: locked by every append to it."""

    __tablename__ = "audit_chain"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_entry_object", "object_type", "object_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(20))
    object_key: Mapped[str] = mapped_column(String(80))
    # Canonical JSON text (app.audit.rules.dumps) of the state before and after.
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ResidentAccess(Model):
    """One read of a resident's record: who, when, whom (by internal id), for what (PIPL).

    Append-only like the audit entries, but not chained: reads are many and
    need no money state; an administrator queries them with
    ``flask audit access``.  No ID number or name is stored here.
    """

    __tablename__ = "resident_access"
    __table_args__ = (
        Index("ix_resident_access_resident", "resident_id", "at"),
        Index("ix_resident_access_user", "username", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(String(60))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    purpose: Mapped[str] = mapped_column(String(20))  # eligibility, visit, receipt …
    clinic_code: Mapped[str | None] = mapped_column(String(20))
