"""Cells that are safe to open in a spreadsheet (OWASP "CSV injection").

Guarantee: a text cell that a spreadsheet would read as a formula — one that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — is written
with a leading apostrophe, so ``=HYPERLINK(...)`` in a catalogue name shows as
text and never runs.  Numbers, dates and money written as numbers are left
alone (a negative adjustment stays a number).  Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value``, with a text that starts like a formula turned into plain text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
