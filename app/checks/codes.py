"""Short receipt codes: random, unguessable, easy to read aloud and to type.

A code is 12 characters of Crockford's base-32 alphabet (no I, L, O or U, so
nothing is mistaken for 1 or 0): 60 random bits, so guessing one receipt
among millions still takes about 10^11 tries — far beyond what the
throttled page allows.  Shown grouped ``ABCD-EFGH-JKMN``; typed in any case,
with or without dashes or spaces.  Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
_TYPED = {"I": "1", "L": "1", "O": "0"}  # what people type for the excluded letters


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def grouped(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise(typed: str) -> str | None:
    """The code as stored, from what a person typed; None when it cannot be one."""
    text = re.sub(r"[\s-]", "", typed or "").upper()
    text = "".join(_TYPED.get(ch, ch) for ch in text)
    if len(text) != LENGTH or any(ch not in ALPHABET for ch in text):
        return None
    return text
