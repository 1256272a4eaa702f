"""The audit chain's pure rules: one canonical form, a hash that covers every field."""

from __future__ import annotations

import dataclasses
import datetime as dt

from app.audit.rules import (
    GENESIS,
    Entry,
    Head,
    canonical_head,
    canonical_tail,
    chain_findings,
    seal,
    state_findings,
)

AT = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)


def chain(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        entry = seal(
            Entry("clinic:HD001", seq, AT, "doctor", "visit.record", "visit", str(seq),
                  None, {"total": 2470, "voided": False}, prev, id=seq)
        )  # fmt: skip
        entries.append(entry)
        prev = entry.hash
    return entries


def test_the_canonical_form_is_stable_and_key_order_free() -> None:
    a = Entry(
        "system", 1, AT, "cli", "import", "import", "villages", None, {"a": 1, "b": 2}, GENESIS
    )
    b = dataclasses.replace(a, after={"b": 2, "a": 1})
    assert a.canonical() == b.canonical()
    assert a.canonical().startswith(b'{"action":"import","actor":"cli","after":{"a":1,"b":2}')
    # The same instant in another zone is the same entry.
    shanghai = AT.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert dataclasses.replace(a, at=shanghai).canonical() == a.canonical()


def test_every_field_is_covered_by_the_hash() -> None:
    entry = chain(1)[0]
    changes = {
        "chain": "clinic:HD002",
        "seq": 2,
        "at": AT + dt.timedelta(microseconds=1),
        "actor": "admin",
        "action": "visit.void",
        "object_type": "statement",
        "object_key": "2",
        "before": {},
        "after": {"total": 2471, "voided": False},
        "prev_hash": "1" * 64,
    }
    for name, value in changes.items():
        assert dataclasses.replace(entry, **{name: value}).computed_hash() != entry.hash, name


def test_a_whole_chain_verifies_and_each_break_is_named() -> None:
    entries = chain(5)
    head = Head("clinic:HD001", 5, entries[-1].hash)
    assert chain_findings("clinic:HD001", entries, head) == []

    edited = [*entries[:2], dataclasses.replace(entries[2], actor="x"), *entries[3:]]
    assert [str(f) for f in chain_findings("clinic:HD001", edited, head)] == [
        "chain clinic:HD001 #3: content does not match its hash (edited)"
    ]
    deleted = [*entries[:2], *entries[3:]]
    found = [str(f) for f in chain_findings("clinic:HD001", deleted, head)]
    assert "chain clinic:HD001 #4: entries #3 are missing (deleted)" in found
    truncated = [str(f) for f in chain_findings("clinic:HD001", entries[:4], head)]
    assert truncated[0].startswith("chain clinic:HD001: head says #5")
    assert chain_findings("clinic:HD001", entries, None)[0].message == "has entries but no head row"


def test_state_findings_name_each_changed_field() -> None:
    audited = {"total": 2470, "voided": True}
    assert state_findings("visit 1", audited, audited) == []
    assert [
        str(f) for f in state_findings("visit 1", audited, {"total": 2470, "voided": False})
    ] == ["visit 1: voided is False, last audited True"]
    assert state_findings("visit 1", None, audited)[0].message.startswith("exists but was never")
    assert (
        state_findings("visit 1", audited, None)[0].message == "was audited but is gone (deleted)"
    )


def test_the_canonical_form_splits_at_the_previous_hash() -> None:
    """What the database seals (head from Python, tail from the chain head) is canonical."""
    tricky = {"名字": "张三", "q": '"prev":"x","seq":1}', "lines": [[1, "DX001", 1000]], "n": None}
    for seq, prev, after in ((1, GENESIS, None), (12345, "ab" * 32, tricky)):
        entry = Entry("clinic:1", seq, AT, "医生", "visit.record", "visit", "7", None, after, prev)
        assert canonical_head(entry) + canonical_tail(prev, seq) == entry.canonical()
        assert canonical_head(entry).endswith(b'"prev":"')
