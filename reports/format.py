"""Formatting of money and counts for printed reports.

Guarantee: :func:`yuan` is exact.  Money reaches the renderers as ``int`` fen
and is turned into text with integer arithmetic only, so a printed figure is
always the stored figure to the fen (no float ever touches it).
"""

from __future__ import annotations


def yuan(fen: int) -> str:
    """Format fen as yuan with two decimals: ``1234`` -> ``"12.34"``.

    No thousands separators: the finance bureau re-keys these figures and
    separators are a common source of transcription errors.
    """
    # bool is an int subclass; a True here is a bug upstream, not 0.01 yuan.
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money must be int fen, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def count(value: int) -> str:
    """Format a head count (visits, injections)."""
    return str(value)
