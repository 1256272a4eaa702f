"""Anchors: each day's chain heads, written where the database's administrator cannot
rewrite them together with the database.

Guarantees:

* ``flask audit anchor`` appends one line to an append-only file outside the
  database (``AUDIT_ANCHOR_FILE``; opened ``O_APPEND``, never rewritten): the
  time and every chain's head (sequence and hash), signed with HMAC-SHA256 under
  a key that is not in the database (``AUDIT_ANCHOR_KEY``), so a line cannot be
  forged or altered by someone who holds only the database;
* :func:`anchor_findings` (run by ``flask audit verify`` whenever an anchor file
  is configured) checks every line's signature and that each chain still holds,
  at each anchored sequence number, the anchored hash: a chain rewritten
  consistently from some entry on (every hash recomputed, the head moved) no
  longer holds the anchored hashes and is reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from pathlib import Path

from app.audit.rules import Finding, Head, dumps, stamp


def _mac(key: bytes, body: dict[str, object]) -> str:
    return hmac.new(key, dumps(body).encode("utf-8"), hashlib.sha256).hexdigest()


def anchor_line(heads: dict[str, Head], now: dt.datetime, key: bytes) -> str:
    """One signed line: the time and every chain's head."""
    body: dict[str, object] = {
        "at": stamp(now),
        "heads": {chain: [h.last_seq, h.last_hash] for chain, h in sorted(heads.items())},
    }
    return dumps({**body, "mac": _mac(key, body)})


def write_anchor(path: str | Path, line: str) -> None:
    """Append ``line`` to the anchor file (created owner-readable), durably."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def anchor_findings(
    path: str | Path, key: bytes | None, hashes: dict[tuple[str, int], str]
) -> list[Finding]:
    """Every anchor line that is not signed by ``key`` or names a hash the chain lost."""
    where = f"anchor file {path}"
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return [Finding(where, "is missing (anchors were configured)")]
    if not key:
        return [Finding(where, "cannot be checked: AUDIT_ANCHOR_KEY is not set")]
    findings: list[Finding] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        at = f"{where}:{number}"
        try:
            anchor = json.loads(text)
            body = {"at": anchor["at"], "heads": anchor["heads"]}
            signed = hmac.compare_digest(_mac(key, body), str(anchor["mac"]))
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(at, "is not an anchor line"))
            continue
        if not signed:
            findings.append(Finding(at, "signature does not match (altered or forged)"))
            continue
        for chain, (seq, digest) in sorted(body["heads"].items()):
            if seq == 0:
                continue
            held = hashes.get((chain, int(seq)))
            if held != digest:
                findings.append(
                    Finding(
                        f"{at} ({body['at']}) {chain} #{seq}",
                        f"the chain holds {held[:12] + '…' if held else 'no such entry'}, "
                        f"the anchor {digest[:12]}… (the chain was rewritten)",
                    )
                )
    return findings
