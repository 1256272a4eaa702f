"""Cells that are safe to open in a spreadsheet (OWASP "CSV injection").

Guarantee: a text cell that a spreadsheet would read as a formula — one that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — is written
with a leading apostrophe, so ``=HYPERLINK(...)`` in a catalogue name shows as
text and never runs.  Numbers, dates and money are left alone, and so is a
text that is nothing but a plain decimal number (``-12.15`` in a CSV is the
negative adjustment it says, not a formula).  Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import re
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value``, with a text that starts like a formula turned into plain text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        if _PLAIN_NUMBER.match(value):
            return value
        return "'" + value
    return value
