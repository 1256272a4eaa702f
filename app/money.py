"""Money: integer fen inside the system, two-decimal yuan strings at its edges.

Guarantees:

* every amount the system stores or computes is an ``int`` of fen (分);
* :func:`round_fen` is the one place where a fractional amount becomes fen, and it
  rounds ROUND_HALF_UP — the "四舍五入" of the medical-insurance settlement rules
  and of GB/T 8170 — never banker's rounding, never ``float``;
* yuan strings are parsed exactly (``Decimal``) and refused, not rounded, when they
  carry more than two decimals; they are always written with exactly two.

This module imports nothing from the application.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
QUANTITY_SCALE = 1000  # quantities are stored as integer thousandths (up to 3 decimals)


class MoneyFormatError(ValueError):
    """A yuan string, ratio or quantity that cannot be read exactly.

    ``code`` says which way, stably (``not_number``, ``decimals``, ``not_positive``),
    for callers that choose their own words: each is a value of
    :class:`app.errors.ProblemCode` (a unit test checks; this module sits below it).
    """

    def __init__(self, message: str, code: str = "not_number") -> None:
        super().__init__(message)
        self.code = code


def round_fen(value: Decimal) -> int:
    """Round an exact fractional amount of fen to whole fen, half up."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# Plain decimal notation in ASCII digits: ``Decimal`` alone would also take
# "1e3", "NaN", "1_000" and full-width "１２", none of which a clinic means.
_PLAIN_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")


def _decimal(text: str | int | Decimal, what: str) -> Decimal:
    if isinstance(text, bool | float):
        # A float has already lost the exact value the user typed.
        raise MoneyFormatError(f"{what} must be given as a string, not a number")
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int) or (isinstance(text, str) and _PLAIN_DECIMAL.match(text.strip())):
        try:
            value = Decimal(str(text).strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise MoneyFormatError(f"{what} is not a number: {text!r}") from None
    else:
        raise MoneyFormatError(f"{what} is not a number: {text!r}")
    if not value.is_finite():
        raise MoneyFormatError(f"{what} is not a number: {text!r}")
    return value


def exact_int(value: Decimal) -> int:
    """An integral ``Decimal`` as ``int``; refuses (never truncates) a fraction."""
    if value != value.to_integral_value():
        raise MoneyFormatError(f"{value} is not a whole number of units")
    return int(value)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def parse_yuan(text: str | int | Decimal, *, allow_negative: bool = False) -> int:
    """``"12.50"`` → ``1250``. More than two decimals is an error, not a rounding."""
    value = _decimal(text, "amount")
    if _places(value.normalize()) > 2:
        raise MoneyFormatError(f"amount has more than two decimals: {text!r}")
    if value < 0 and not allow_negative:
        raise MoneyFormatError(f"amount must not be negative: {text!r}")
    return exact_int(value * FEN_PER_YUAN)


def format_yuan(fen: int) -> str:
    """``1250`` → ``"12.50"``; ``-5`` → ``"-0.05"``. Integer arithmetic only."""
    # bool is an int subclass: a True here is a bug upstream, not 0.01 yuan; a
    # float or Decimal means money left integer fen somewhere before this point.
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money must be int fen, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def format_money(fen: int) -> str:
    """``1250`` → ``"¥12.50"``; ``-777`` → ``"-¥7.77"``: the one way a page shows money."""
    text = format_yuan(fen)
    return f"-¥{text[1:]}" if text.startswith("-") else f"¥{text}"


def parse_ratio(text: str | int | Decimal, *, max_places: int = 4) -> Decimal:
    """A share between 0 and 1 inclusive, e.g. ``"0.70"``."""
    value = _decimal(text, "ratio")
    if _places(value.normalize()) > max_places:
        raise MoneyFormatError(f"ratio has more than {max_places} decimals: {text!r}")
    if not Decimal(0) <= value <= Decimal(1):
        raise MoneyFormatError(f"ratio must be between 0 and 1: {text!r}")
    return value


def parse_quantity(text: str | int | Decimal) -> int:
    """A positive quantity with at most three decimals → integer thousandths."""
    value = _decimal(text, "quantity")
    if _places(value.normalize()) > 3:
        raise MoneyFormatError(f"quantity has more than three decimals: {text!r}", "decimals")
    if value <= 0:
        raise MoneyFormatError(f"quantity must be greater than zero: {text!r}", "not_positive")
    return exact_int(value * QUANTITY_SCALE)


def format_quantity(milli: int) -> str:
    """``12000`` → ``"12"``; ``1500`` → ``"1.5"``."""
    whole, frac = divmod(milli, QUANTITY_SCALE)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:03d}".rstrip("0")


def line_amount(unit_price_fen: int, quantity_milli: int) -> int:
    """``round(unit_price × quantity)`` exactly: the product is formed in ``Decimal``."""
    return round_fen(Decimal(unit_price_fen) * Decimal(quantity_milli) / QUANTITY_SCALE)


def apply_ratio(fen: int, ratio: Decimal) -> int:
    """``round(fen × ratio)`` exactly."""
    return round_fen(Decimal(fen) * ratio)
