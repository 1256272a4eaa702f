"""Appending to the audit chains, inside the caller's unit of work.

Guarantees:

* an entry is written in the same transaction as the write it records (the
  caller's session; this module never commits), so either both are kept or
  neither is;
* appending locks the chain's head row (``FOR UPDATE`` on PostgreSQL;
  SQLite's ``BEGIN IMMEDIATE`` already serialises writers), inserts the entry
  sealed from the head it holds and moves the head to it — one statement on
  PostgreSQL, two on SQLite: entries of a chain get gapless sequence numbers
  and each links to the hash of the one before;
* chain granularity: one chain per clinic (its visits and statements) and one
  system chain (imports, policy loads, users, tokens, logins, batch payments).
  Recording a visit already holds its clinic's receipt counter for the year,
  so visits of one clinic were serialised before; the clinic head adds no
  wait between clinics and none between visits of one clinic.  The head is
  always the last lock a transaction takes (a batch payment takes several,
  in statement id order, after all its statement locks), so it adds no
  deadlock;
* what is recorded of a visit or a statement is :func:`app.audit.rules.visit_state`
  / :func:`~app.audit.rules.statement_state`, which ``flask audit verify``
  compares with the live rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from functools import cache
from typing import Any, ClassVar, Protocol

from sqlalchemy import (
    BindParameter,
    FromClause,
    LargeBinary,
    String,
    TextClause,
    bindparam,
    select,
    text,
)
from sqlalchemy.orm import Session

from app.audit.models import AuditChain, ResidentAccess
from app.audit.queries import last_audited
from app.audit.rules import (
    GENESIS,
    SEQ_SEPARATOR,
    SYSTEM_CHAIN,
    Acting,
    AuditedAdjustment,
    AuditedEvent,
    AuditedStatement,
    AuditedToken,
    AuditedUser,
    AuditedVisit,
    Entry,
    ImportCounts,
    State,
    canonical_head,
    clinic_chain,
    dumps,
    event_state,
    normalise,
    row_digest,
    statement_state,
    visit_state,
)
from app.database import UTCDateTime, insert_missing, unit_of_work
from app.extensions import db

# Who acted when no user did: a command run on the server by its operator.
OPERATOR = "cli"


def actor_name(actor: Acting) -> str:
    """A user's name, or the given string (``"cli"``, ``"system"``)."""
    return actor if isinstance(actor, str) else str(actor.username)


# Appending is one statement on PostgreSQL: the new entry is selected from the
# chain's head row, locked (FOR UPDATE: a concurrent appender waits, then reads
# the head it left), sealed in SQL — SHA-256 of the canonical form, whose head
# part comes from Python and whose tail is the previous hash and the next
# sequence number (app.audit.rules.canonical_head) — and the head moved to it.
# The two steps are CTEs a writer can also fold into its own data-modifying
# WITH (recording a visit does: :func:`visit_record_parameters`), their
# parameters then prefixed so they cannot meet the writer's.
# SQLite has no data-modifying WITH: the same INSERT … SELECT, then the head
# UPDATE (its unit of work is BEGIN IMMEDIATE, so nothing can come between).
_COLUMNS = "chain, seq, at, actor, action, object_type, object_key, before, after, prev_hash, hash"
_PARAMETERS = ("chain", "at", "actor", "action", "object_type", "object_key", "before", "after")


def pg_append_ctes(prefix: str = "") -> str:
    """``{prefix}new_entry`` (the entry appended, sealed), ``{prefix}new_head`` (the head moved).

    If the chain has no head row yet, both are empty: the caller appends with
    :func:`append` instead, which creates it.
    """
    p = prefix
    return f"""{p}new_entry AS (
    INSERT INTO audit_entry ({_COLUMNS})
    SELECT c.chain, c.last_seq + 1, :{p}at, :{p}actor, :{p}action, :{p}object_type,
           :{p}object_key, :{p}before, :{p}after, c.last_hash,
           encode(sha256(:{p}head || convert_to(c.last_hash || :{p}sep || (c.last_seq + 1)
                                                 || '}}', 'UTF8')), 'hex')
    FROM audit_chain AS c
    WHERE c.chain = :{p}chain
    FOR UPDATE OF c
    RETURNING chain, seq, prev_hash, hash
), {p}new_head AS (
    UPDATE audit_chain SET last_seq = {p}new_entry.seq, last_hash = {p}new_entry.hash
    FROM {p}new_entry
    WHERE audit_chain.chain = {p}new_entry.chain
    RETURNING audit_chain.last_seq
)"""


def append_bindparams(prefix: str = "") -> list[BindParameter[Any]]:
    """The typed parameters of :func:`pg_append_ctes` (and of the SQLite append)."""
    return [
        bindparam(f"{prefix}at", type_=UTCDateTime()),
        bindparam(f"{prefix}head", type_=LargeBinary()),
        bindparam(f"{prefix}sep", value=SEQ_SEPARATOR, type_=String()),
    ]


_PG_APPEND = f"WITH {pg_append_ctes()}\nSELECT seq, prev_hash, hash FROM new_entry"
_SQLITE_APPEND = f"""
INSERT INTO audit_entry ({_COLUMNS})
SELECT c.chain, c.last_seq + 1, :at, :actor, :action, :object_type, :object_key,
       :before, :after, c.last_hash,
       sha256_hex(:head, c.last_hash, :sep, c.last_seq + 1, '}}')
FROM audit_chain AS c
WHERE c.chain = :chain
RETURNING seq, prev_hash, hash
"""
_SQLITE_MOVE_HEAD = text(
    "UPDATE audit_chain SET last_seq = :seq, last_hash = :hash WHERE chain = :chain"
)


@cache
def _append_statement(dialect: str) -> TextClause:
    return text(_PG_APPEND if dialect == "postgresql" else _SQLITE_APPEND).bindparams(
        *append_bindparams()
    )


def _entry(
    actor: Acting,
    action: str,
    obj: tuple[str, str | int],
    before: State | None,
    after: State | None,
    now: dt.datetime | None,
    chain: str,
) -> tuple[Entry, dict[str, Any]]:
    """The entry to append (not yet sealed) and its statement's parameters."""
    # Callers without a clock of their own (imports and policy loads run from
    # the CLI and the demo seed) get the time the entry is written.
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    entry = Entry(
        chain=chain,
        seq=0,
        at=moment,
        actor=actor_name(actor)[:60],
        action=action,
        object_type=obj[0],
        object_key=str(obj[1])[:80],
        before=normalise(before),
        after=normalise(after),
        prev_hash="",
    )
    values = {name: getattr(entry, name) for name in _PARAMETERS}
    values["before"] = None if entry.before is None else dumps(entry.before)
    values["after"] = None if entry.after is None else dumps(entry.after)
    values["head"] = canonical_head(entry)
    return entry, values


def append(
    session: Session,
    actor: Acting,
    action: str,
    obj: tuple[str, str | int],
    before: State | None,
    after: State | None,
    now: dt.datetime | None,
    *,
    chain: str = SYSTEM_CHAIN,
) -> Entry:
    """Append one entry to ``chain`` in the caller's transaction: one statement on PostgreSQL.

    The entry is sealed by the database while it holds the chain's head
    (:data:`_PG_APPEND`); ``flask audit verify`` recomputes the hash in Python.
    """
    entry, values = _entry(actor, action, obj, before, after, now, chain)
    connection = session.connection()
    dialect = connection.dialect.name
    row = connection.execute(_append_statement(dialect), values).one_or_none()
    if row is None:  # the chain's first entry: create its head, then append
        insert_missing(session, AuditChain, {"chain": chain, "last_seq": 0, "last_hash": GENESIS})
        row = connection.execute(_append_statement(dialect), values).one()
    if dialect != "postgresql":
        connection.execute(_SQLITE_MOVE_HEAD, {"seq": row.seq, "hash": row.hash, "chain": chain})
    return replace(entry, seq=row.seq, prev_hash=row.prev_hash, hash=row.hash)


# --- one helper per kind of write ---------------------------------------------------


def visit_record_parameters(
    actor: Acting, visit: AuditedVisit, now: dt.datetime, prefix: str
) -> dict[str, Any]:
    """The parameters of :func:`pg_append_ctes` (``prefix``) for ``visit.record`` of ``visit``.

    For a writer that appends the entry in its own statement: the same entry
    :func:`audit_visit` would append, from a visit whose id, receipt number and
    lines are known before it is written.
    """
    _, values = _entry(
        actor,
        "visit.record",
        ("visit", visit.id),
        None,
        visit_state(visit, visit.lines),
        now,
        clinic_chain(visit.clinic.code),
    )
    return {prefix + name: value for name, value in values.items()}


def audit_visit(
    session: Session, actor: Acting, action: str, visit: AuditedVisit, now: dt.datetime
) -> Entry:
    """A visit recorded (``visit.record``) or voided (``visit.void``); call after the change."""
    session.flush()  # the visit's id and lines are what the entry names
    before = None if action == "visit.record" else last_audited(session, "visit", str(visit.id))
    return append(
        session,
        actor,
        action,
        ("visit", visit.id),
        before,
        visit_state(visit, visit.lines),
        now,
        chain=clinic_chain(visit.clinic.code),
    )


def audit_statement(
    session: Session,
    actor: Acting,
    action: str,
    statement: AuditedStatement,
    event: AuditedEvent,
    now: dt.datetime,
) -> Entry:
    """A statement transition and the history row that records it; call after both."""
    session.flush()  # the event's id is part of the entry
    key = f"{statement.clinic.code}/{statement.month}"
    after = {**statement_state(statement), "event": event_state(event)}
    return append(
        session,
        actor,
        f"statement.{action}",
        ("statement", key),
        last_audited(session, "statement", key),
        after,
        now,
        chain=clinic_chain(statement.clinic.code),
    )


def audit_adjustments(
    session: Session,
    actor: Acting,
    adjustments: list[Any],
    clinic_codes: dict[int, str],
    now: dt.datetime,
) -> None:
    """Booked statement adjustment lines (SPEC §7), each with its money and reason.

    Call once, after every statement lock of the transaction is taken: the
    chain heads are the last locks, in clinic order.
    """
    session.flush()  # the lines' ids are what the entries name
    for a in sorted(adjustments, key=lambda a: (clinic_codes[a.clinic_id], a.id)):
        code = clinic_codes[a.clinic_id]
        append(
            session,
            actor,
            "adjustment.book",
            ("statement_adjustment", a.id),
            None,
            adjustment_state(a, code),
            now,
            chain=clinic_chain(code),
        )


def adjustment_state(a: AuditedAdjustment, clinic_code: str) -> State:
    """A statement adjustment line as the chain records it (verify compares the live row)."""
    return {
        "statement": f"{clinic_code}/{a.statement_month}",
        "belongs_to": a.belongs_to,
        "visit": a.visit_id,
        "receipt_number": a.receipt_number,
        "source": a.source,
        "outcome": a.outcome,
        "reason": a.reason,
        "fund_computed": a.fund_computed,
        "fund_paid": a.fund_paid,
        "amount": a.amount,
    }


def audit_batch_payment(
    session: Session,
    actor: Acting,
    district_code: str,
    month: str,
    statements: list[Any],
    reference: str,
    now: dt.datetime,
) -> Entry:
    """One bank batch: which statements it paid, and how much in all."""
    after = {
        "reference": reference,
        "count": len(statements),
        "amount": sum(s.paid_amount or 0 for s in statements),
        "statements": sorted(f"{s.clinic.code}/{s.month}" for s in statements),
    }
    obj = ("district", f"{district_code}/{month}")
    return append(session, actor, "statement.batch_pay", obj, None, after, now)


def audit_import(
    session: Session,
    actor: Acting,
    kind: str,
    source: str,
    data: bytes | tuple[str, int],
    summary: ImportCounts,
    now: dt.datetime | None = None,
) -> Entry:
    """An imported file: its SHA-256 and what it did, row by row counted.

    ``data`` is the file, or its (SHA-256 hex, length) when it was hashed as it
    streamed (a large file is never held whole).
    """
    sha256, size = (
        (hashlib.sha256(data).hexdigest(), len(data)) if isinstance(data, bytes) else data
    )
    after = {
        "source": source[-200:],
        "sha256": sha256,
        "bytes": size,
        "rows": summary.rows,
        "added": summary.added,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
    }
    return append(session, actor, "import", ("import", kind), None, after, now)


class AuditedVersion(Protocol):
    """A policy version (app.policy.models.PolicyVersion): its key, then every column as stored."""

    __table__: ClassVar[FromClause]

    @property
    def district_code(self) -> str: ...
    @property
    def effective_from(self) -> dt.date: ...


def audit_policy(
    session: Session,
    actor: Acting,
    version: AuditedVersion,
    status: str,
    now: dt.datetime | None = None,
) -> Entry:
    """A policy version added or updated (``status``), with every figure it holds."""
    session.flush()
    key = f"{version.district_code}/{version.effective_from.isoformat()}"
    after = {column.name: getattr(version, column.name) for column in version.__table__.columns}
    before = last_audited(session, "policy", key)
    return append(session, actor, f"policy.{status}", ("policy", key), before, after, now)


def audit_user(
    session: Session, actor: Acting, action: str, user: AuditedUser, now: dt.datetime | None
) -> Entry:
    """A user created (``user.create``) or deactivated (``user.deactivate``)."""
    session.flush()
    after = {
        "role": user.role,
        "active": bool(user.active),
        "clinic_id": user.clinic_id,
        "district_code": user.district_code,
        "town_code": user.town_code,
    }
    if user.practitioner_code is not None:  # only then: older entries stay as they were
        after["practitioner_code"] = user.practitioner_code
    return append(session, actor, action, ("user", user.username), None, after, now)


def audit_token(
    session: Session, actor: Acting, action: str, token: AuditedToken, now: dt.datetime
) -> Entry:
    """An API token issued (``token.issue``) or revoked (``token.revoke``); never the token."""
    session.flush()
    after = {
        "user": token.user.username,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }
    return append(session, actor, action, ("token", token.id), None, after, now)


def audit_login(session: Session, username: str, success: bool, now: dt.datetime) -> Entry:
    """A login attempt; the name as typed (bounded), never the password."""
    name = "".join(c for c in username if c.isprintable())[:60]
    action = "login.success" if success else "login.failure"
    return append(session, name or "?", action, ("user", name), None, None, now)


def record_access(
    actor: Acting, resident_id: int | None, purpose: str, clinic_code: str | None, now: dt.datetime
) -> None:
    """Log one read of a resident's record, in a unit of work of its own.

    A read path has no transaction to join; the entry is committed at once so
    the log holds every read, even of a request that fails afterwards.
    ``resident_id`` None (an ID number not in the register) reads nothing.
    """
    if resident_id is None:
        return
    with unit_of_work() as session:
        session.add(
            ResidentAccess(
                at=now,
                username=actor_name(actor)[:60],
                resident_id=resident_id,
                purpose=purpose[:20],
                clinic_code=clinic_code,
            )
        )


def audit_rollup_rebuild(
    session: Session, actor: Acting, month: str | None, days: int, items: int, now: dt.datetime
) -> Entry:
    """The statement rollups rebuilt from the visits (``month`` None: every month)."""
    after = {"day_rows": days, "item_rows": items}
    return append(session, actor, "rollup.rebuild", ("rollup", month or "all"), None, after, now)


def audit_clinic_event(
    session: Session,
    actor: Acting,
    action: str,
    obj: tuple[str, str | int],
    clinic_code: str,
    after: State,
    now: dt.datetime,
) -> Entry:
    """A clinic's write that holds no visit or statement state (a day close, a finding,
    a patient's answer): appended to the clinic's chain, last in its transaction.

    ``obj`` must not be a ``visit`` or ``statement``: verify compares those
    objects' entries with the live rows' money and status.
    """
    session.flush()
    return append(session, actor, action, obj, None, after, now, chain=clinic_chain(clinic_code))


# --- reference data recorded whole: a digest of the table after each write ---------------

# Tables whose rows decide eligibility or money and are written in bulk (imports):
# each write records the table's digest (``table.digest``), and verify recomputes
# it.  Areas' tables are named, not imported: this module sits below them.
DIGESTED_TABLES = ("village", "clinic", "resident", "catalog_item", "item_price", "diagnosis")


def table_rows(
    session: Session, name: str, columns: list[str] | None = None, where: Any = None
) -> Any:
    """Rows of table ``name`` (``columns``, default all; optionally filtered), in key order."""
    table = db.metadata.tables[name]
    chosen = [table.c[c] for c in columns] if columns is not None else list(table.c)
    query = select(*chosen).order_by(*table.primary_key.columns)
    if where is not None:
        query = query.where(where(table))
    # Streamed (a server-side cursor on PostgreSQL): a million rows are digested, not held.
    return (tuple(row) for row in session.execute(query.execution_options(yield_per=10_000)))


def table_digest_state(session: Session, name: str, columns: list[str] | None = None) -> State:
    """The digest of a table over ``columns`` (default: all it has now), which it records.

    The columns are part of the state: a migration that adds one leaves the
    recorded digest checkable (over the columns it names) until the next
    write records the new set.
    """
    if columns is None:
        columns = [c.name for c in db.metadata.tables[name].c]
    count, sha256 = row_digest(table_rows(session, name, columns))
    return {"columns": columns, "rows": count, "sha256": sha256}


def audit_table_digests(
    session: Session, actor: Acting, names: tuple[str, ...], now: dt.datetime | None
) -> None:
    """Record the digest of each table in ``names`` as it now is (after a bulk write)."""
    session.flush()
    for name in names:
        append(
            session,
            actor,
            "table.digest",
            ("table", name),
            None,
            table_digest_state(session, name),
            now,
        )


def settlement_rows_state(
    session: Session, file_id: int, columns: list[str] | None = None
) -> State:
    """The digest of one imported settlement file's stored rows (over ``columns``)."""
    if columns is None:
        columns = [c.name for c in db.metadata.tables["fund_settlement"].c]
    count, sha256 = row_digest(
        table_rows(session, "fund_settlement", columns, lambda t: t.c.file_id == file_id)
    )
    return {"file_id": file_id, "columns": columns, "rows": count, "sha256": sha256}


def audit_settlement_rows(
    session: Session, actor: Acting, file_id: int, now: dt.datetime | None
) -> None:
    """Record the digest of the fund settlement rows one file stored."""
    session.flush()
    state = settlement_rows_state(session, file_id)
    append(session, actor, "settlement.rows", ("fund_file", file_id), None, state, now)
