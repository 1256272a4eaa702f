"""The audit chain's pure logic: canonical form, hashing, and what verification finds.

Guarantees:

* an entry's canonical form is one byte string — JSON with sorted keys, no
  whitespace, UTF-8 — over every field that matters (chain, sequence, time,
  actor, action, object, the state before and after, and the previous entry's
  hash), so ``hash = SHA-256(canonical)`` changes if any of them changes, and
  the first entry of a chain links to :data:`GENESIS`;
* :func:`chain_findings` re-walks one chain and reports every edited entry
  (hash no longer matches its content), deleted entry (a gap in the sequence,
  or a head that is ahead of the last entry), inserted or reordered entry (a
  broken link, a repeated sequence number, storage order against sequence
  order), and a chain whose head row is missing or disagrees;
* :func:`state_findings` compares a live row's state with its last audited
  state and names every field that differs, so a money figure, a void flag or
  a status changed outside the operations is reported;
* :func:`transition_findings` checks that an entry's own before and after agree
  with what its action may change (a void changes no money; a review or a
  payment changes no figure), so a tampered row cannot be laundered by a later
  legitimate write that copies it into the chain.

Nothing here imports Flask or SQLAlchemy: dataclasses and dicts in, findings out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from app.ledger import FIGURE_FIELDS

GENESIS = "0" * 64

State = dict[str, Any]


# --- what the audit reads of the objects it records (the types it owns) ----------
# Every area's operations append through these: the audit knows the shape of a
# visit, a statement or a user, not the areas that define them (which sit above it).


class Actor(Protocol):
    """Who acted: a user (by name), or a string for the operator (``"cli"``) or the system."""

    @property
    def username(self) -> str: ...


# A user, or "cli" / "system" when no user acted.
Acting = Actor | str


class Coded(Protocol):
    @property
    def code(self) -> str: ...


class AuditedLine(Protocol):
    @property
    def line_no(self) -> int: ...
    @property
    def item_code(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price(self) -> int: ...
    @property
    def amount(self) -> int: ...
    @property
    def in_scope(self) -> int: ...
    @property
    def self_pay(self) -> int: ...


class AuditedVisit(Protocol):
    """A visit's identity, money (:data:`VISIT_MONEY`, read by name), lines and void flag."""

    @property
    def id(self) -> int: ...
    @property
    def receipt_number(self) -> str: ...
    @property
    def month(self) -> str: ...
    @property
    def programme(self) -> bool: ...
    @property
    def voided_at(self) -> dt.datetime | None: ...
    @property
    def clinic(self) -> Coded: ...
    @property
    def lines(self) -> Sequence[AuditedLine]: ...
    # Who, when and by whom (VISIT_IDENTITY).
    @property
    def patient_id_number(self) -> str: ...
    @property
    def resident_id(self) -> int | None: ...
    @property
    def visited_at(self) -> dt.datetime: ...
    @property
    def visit_date(self) -> dt.date: ...
    @property
    def clinic_id(self) -> int: ...
    @property
    def recorded_by_id(self) -> int: ...
    @property
    def policy_version_id(self) -> int | None: ...
    @property
    def injection(self) -> bool: ...


class AuditedStatement(Protocol):
    """A statement's status, payment and frozen figures (:data:`STATEMENT_FIGURES`, by name)."""

    @property
    def month(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def paid_on(self) -> dt.date | None: ...
    @property
    def payment_reference(self) -> str | None: ...
    @property
    def paid_amount(self) -> int | None: ...
    @property
    def clinic(self) -> Coded: ...


class AuditedEvent(Protocol):
    """One step of a statement's history."""

    @property
    def id(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def from_status(self) -> str | None: ...
    @property
    def to_status(self) -> str: ...
    @property
    def actor_id(self) -> int | None: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def reason(self) -> str | None: ...


class AuditedAdjustment(Protocol):
    """A statement adjustment line (app.settlement.models.StatementAdjustment)."""

    @property
    def statement_month(self) -> str: ...
    @property
    def belongs_to(self) -> str: ...
    @property
    def visit_id(self) -> int: ...
    @property
    def receipt_number(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def fund_computed(self) -> int: ...
    @property
    def fund_paid(self) -> int: ...
    @property
    def amount(self) -> int: ...


class ImportCounts(Protocol):
    """What an imported file did, row by row counted (app.imports.operations.ImportSummary)."""

    @property
    def rows(self) -> int: ...
    @property
    def added(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def unchanged(self) -> int: ...


class AuditedUser(Protocol):
    """A user account as its entries record it (app.auth.models.User)."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def clinic_id(self) -> int | None: ...
    @property
    def district_code(self) -> str | None: ...
    @property
    def town_code(self) -> str | None: ...
    @property
    def practitioner_code(self) -> str | None: ...


class AuditedToken(Protocol):
    """An API token (app.auth.models.ApiToken): whose, and its times; never the token."""

    @property
    def id(self) -> int: ...
    @property
    def user(self) -> Actor: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...
    @property
    def revoked_at(self) -> dt.datetime | None: ...


# The chain of a clinic holds its visits and statements; everything else
# (imports, policy, users, tokens, logins, batch payments) is in SYSTEM_CHAIN.
SYSTEM_CHAIN = "system"


def clinic_chain(clinic_code: str) -> str:
    return f"clinic:{clinic_code}"


def normalise(value: Any) -> Any:
    """``value`` as JSON would give it back: what is hashed is exactly what is stored."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def stamp(moment: dt.datetime) -> str:
    """An entry's time in its canonical form: UTC, microseconds."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Entry:
    """One audit entry as stored (``before``/``after`` already normalised)."""

    chain: str
    seq: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_key: str
    before: State | None
    after: State | None
    prev_hash: str
    hash: str = ""
    id: int = 0  # storage order, for the reordering check

    def canonical(self) -> bytes:
        body = {
            "chain": self.chain,
            "seq": self.seq,
            "at": stamp(self.at),
            "actor": self.actor,
            "action": self.action,
            "object": [self.object_type, self.object_key],
            "before": self.before,
            "after": self.after,
            "prev": self.prev_hash,
        }
        return dumps(body).encode("utf-8")

    def computed_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def seal(entry: Entry) -> Entry:
    """``entry`` with its hash filled in."""
    return Entry(**{**entry.__dict__, "hash": entry.computed_hash()})


# The canonical form ends with its two last keys in sorted order, ``prev`` then
# ``seq``: everything before the previous entry's hash is known before the chain
# head is locked, the rest is the head's.  So the database can seal an entry
# while it locks the head, in the one statement that appends it
# (``app.audit.operations``): SHA-256(head || tail).
SEQ_SEPARATOR = '","seq":'


def canonical_head(entry: Entry) -> bytes:
    """The canonical form of ``entry`` up to the previous entry's hash (not included)."""
    body = replace(entry, prev_hash="", seq=0).canonical()
    end = b'"prev":"' + SEQ_SEPARATOR.encode() + b"0}"
    if not body.endswith(end):  # a new key sorting after "seq" would break the split
        raise AssertionError("the canonical form no longer ends with prev and seq")
    return body[: -len(SEQ_SEPARATOR) - 2]


def canonical_tail(prev_hash: str, seq: int) -> bytes:
    """The rest: ``canonical_head(e) + canonical_tail(e.prev_hash, e.seq) == e.canonical()``."""
    return f"{prev_hash}{SEQ_SEPARATOR}{seq}}}".encode()


@dataclass(frozen=True)
class Head:
    chain: str
    last_seq: int
    last_hash: str

    def label(self) -> str:
        """How a printed document pins the data: chain, sequence and hash."""
        return f"{self.chain} #{self.last_seq} {self.last_hash}"


@dataclass(frozen=True)
class Finding:
    """One thing verification found wrong: where, and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def chain_findings(chain: str, entries: Sequence[Entry], head: Head | None) -> list[Finding]:
    """Every break in one chain; ``entries`` in sequence order."""
    findings: list[Finding] = []
    where = f"chain {chain}"
    prev_hash = GENESIS
    expected = 1
    last_id = 0
    for entry in entries:
        at = f"{where} #{entry.seq}"
        if entry.seq < expected:
            findings.append(Finding(at, "sequence number repeated (an inserted entry)"))
        elif entry.seq > expected:
            missing = (
                f"#{expected}" if entry.seq == expected + 1 else f"#{expected}–#{entry.seq - 1}"
            )
            findings.append(Finding(at, f"entries {missing} are missing (deleted)"))
        if entry.id and entry.id < last_id:
            findings.append(Finding(at, "stored out of sequence order (reordered)"))
        if entry.prev_hash != prev_hash:
            findings.append(
                Finding(at, "does not link to the entry before it (inserted, deleted or reordered)")
            )
        if entry.computed_hash() != entry.hash:
            findings.append(Finding(at, "content does not match its hash (edited)"))
        prev_hash = entry.hash
        expected = max(expected, entry.seq) + 1
        last_id = max(last_id, entry.id)
    last_seq = entries[-1].seq if entries else 0
    if head is None:
        if entries:
            findings.append(Finding(where, "has entries but no head row"))
    elif head.last_seq != last_seq or head.last_hash != prev_hash:
        findings.append(
            Finding(
                where,
                f"head says #{head.last_seq} {head.last_hash[:12]}…, the entries end at "
                f"#{last_seq} {prev_hash[:12]}… (entries deleted or appended outside the app)",
            )
        )
    return findings


def state_findings(where: str, audited: State | None, live: State | None) -> list[Finding]:
    """How a live row differs from its last audited state (None: no such row / no entry)."""
    if audited is None and live is None:
        return []
    if audited is None:
        return [Finding(where, "exists but was never audited (written outside the app)")]
    if live is None:
        return [Finding(where, "was audited but is gone (deleted)")]
    changed = sorted(k for k in audited.keys() | live.keys() if audited.get(k) != live.get(k))
    return [
        Finding(where, f"{k} is {live.get(k)!r}, last audited {audited.get(k)!r}") for k in changed
    ]


# What each action may change between its before and after state.
_VISIT_VOID_MAY_CHANGE = {"voided"}
_STATEMENT_KEEPS_FIGURES = {"statement.review", "statement.pay"}


def transition_findings(where: str, entry: Entry, figure_keys: Iterable[str]) -> list[Finding]:
    """An entry whose after state changed what its action never changes."""
    before, after = entry.before or {}, entry.after or {}
    if entry.action == "visit.void":
        keys = (before.keys() | after.keys()) - _VISIT_VOID_MAY_CHANGE
    elif entry.action in _STATEMENT_KEEPS_FIGURES:
        keys = set(figure_keys)
    else:
        return []
    changed = sorted(k for k in keys if before.get(k) != after.get(k))
    if not changed:
        return []
    return [
        Finding(
            where,
            f"{entry.action} (#{entry.seq} of {entry.chain}) changed {', '.join(changed)}, "
            "which it never changes: the row was altered before it",
        )
    ]


# --- the state the chain records for each kind of object ------------------------

VISIT_MONEY = (
    "lines_total",
    "registration",
    "injection_fee",
    "in_scope",
    "self_pay",
    "fund_base",
    "deductible_applied",
    "fund",
    "fiscal",
    "copay",
    "patient",
    "total",
)
# A statement's frozen figures: every declared figure (app.ledger.FIGURES).
STATEMENT_FIGURES = FIGURE_FIELDS
LINE_FIELDS = ("line_no", "item_code", "quantity", "unit_price", "amount", "in_scope", "self_pay")


# Who, when, where and by whom: a visit's patient swapped for another person, or
# its date or doctor changed, moves money between people and years.  Entries
# written before these keys were recorded lack them (verify then skips them).
VISIT_IDENTITY = (
    "patient_id_number",
    "resident_id",
    "visited_at",
    "visit_date",
    "clinic_id",
    "recorded_by_id",
    "policy_version_id",
    "injection",
)


def visit_state(visit: AuditedVisit, lines: Iterable[AuditedLine]) -> State:
    """A visit's money, lines, void flag and identity: what no one may change unseen."""
    state: State = {
        "receipt": visit.receipt_number,
        "month": visit.month,
        "programme": bool(visit.programme),
        "voided": visit.voided_at is not None,
        "lines": [[getattr(line, f) for f in LINE_FIELDS] for line in lines],
    }
    for name in VISIT_MONEY:
        state[name] = getattr(visit, name)
    state["patient_id_number"] = visit.patient_id_number
    state["resident_id"] = visit.resident_id
    state["visited_at"] = stamp(visit.visited_at)
    state["visit_date"] = visit.visit_date.isoformat()
    state["clinic_id"] = visit.clinic_id
    state["recorded_by_id"] = visit.recorded_by_id
    state["policy_version_id"] = visit.policy_version_id
    state["injection"] = bool(visit.injection)
    return state


def row_digest(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """How many rows, and the SHA-256 of their canonical JSON, one row a line, in order.

    For tables recorded whole rather than row by row (residents, prices, the
    fund's settlement rows): a writer records the digest after it writes, and
    verify recomputes it; any row edited, added or removed in between changes it.
    """
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        count += 1
        digest.update(dumps(list(row)).encode("utf-8"))
        digest.update(b"\n")
    return count, digest.hexdigest()


def statement_state(statement: AuditedStatement) -> State:
    """A statement's status, frozen figures and payment."""
    state: State = {
        "month": statement.month,
        "status": statement.status,
        "paid_on": statement.paid_on.isoformat() if statement.paid_on else None,
        "payment_reference": statement.payment_reference,
        "paid_amount": statement.paid_amount,
    }
    for name in STATEMENT_FIGURES:
        state[name] = getattr(statement, name)
    return state


def unaudited_statement_state(month: str) -> State:
    """The state of a statement row no transition has touched: created open by a visit."""
    state: State = {
        "month": month,
        "status": "open",
        "paid_on": None,
        "payment_reference": None,
        "paid_amount": None,
    }
    state.update(dict.fromkeys(STATEMENT_FIGURES))
    return state


def event_state(event: AuditedEvent) -> State:
    """One statement history row, as the chain records it."""
    return normalise(
        {
            "id": event.id,
            "action": event.action,
            "from": event.from_status,
            "to": event.to_status,
            "actor_id": event.actor_id,
            "at": stamp(event.at),
            "reason": event.reason,
        }
    )
