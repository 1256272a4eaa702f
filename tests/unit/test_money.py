"""Money: fen inside, two-decimal yuan strings outside, ROUND_HALF_UP once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.money import (
    MoneyFormatError,
    apply_ratio,
    exact_int,
    format_quantity,
    format_yuan,
    line_amount,
    parse_quantity,
    parse_ratio,
    parse_yuan,
    round_fen,
)


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("12", 1200),
        ("12.", 1200),
        (".5", 50),
        ("0.01", 1),
        ("0", 0),
        ("0.00", 0),
        (" 3.00 ", 300),
        ("12.500", 1250),  # trailing zeros add no precision
        ("+1.00", 100),
        ("1000000.00", 100_000_000),
        (12, 1200),
        (Decimal("1.10"), 110),
    ],
)
def test_parse_yuan(text: str | int | Decimal, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "12.505",  # a third decimal is an error, never a rounding
        "0.001",
        "-1.00",
        "abc",
        "",
        " ",
        "1e2",
        "1E-2",
        "NaN",
        "Infinity",
        "1,000.00",
        "1_000",
        "１２",  # full-width digits
        "¥12",
        "12 .5",
        12.5,  # a float has lost the exact value already
        1.0,
        True,
    ],
)
def test_parse_yuan_refuses(text: object) -> None:
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)  # type: ignore[arg-type]


def test_parse_yuan_negative_when_allowed() -> None:
    assert parse_yuan("-0.05", allow_negative=True) == -5
    assert parse_yuan("-12", allow_negative=True) == -1200


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (5, "0.05"),
        (10, "0.10"),
        (1250, "12.50"),
        (123456, "1234.56"),
        (-5, "-0.05"),
        (-100, "-1.00"),
        (-123456, "-1234.56"),
        (10**12, "10000000000.00"),
    ],
)
def test_format_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),  # half up, not banker's (which would give 2)
        ("1214.5", 1215),  # 17.35 × 0.70 = 12.145 yuan → 12.15
        ("1214.49999", 1214),
        ("1214.50001", 1215),
        ("0.4999", 0),
        ("-0.5", -1),  # half away from zero
        ("7", 7),
    ],
)
def test_round_fen_half_up(value: str, fen: int) -> None:
    assert round_fen(Decimal(value)) == fen


def test_the_rounding_edge_of_the_worked_example() -> None:
    # fund_base 17.35 × fund_ratio 0.70 = 12.145 → 12.15, half up.
    assert apply_ratio(1735, parse_ratio("0.70")) == 1215
    # Why neither float nor Python's round() may touch money: both say 12.14.
    assert round(17.35 * 0.70, 2) == 12.14 and round(1735 * 0.70) == 1214
    assert apply_ratio(350, 1 - parse_ratio("0.10")) == 315


@pytest.mark.parametrize(
    ("unit_price", "quantity", "amount"),
    [
        (35, 12000, 420),
        (333, 1500, 500),
        (1, 500, 1),
        (1, 499, 0),
        (350, 1000, 350),
        (1000, 1, 1),
        (0, 5000, 0),
        (199, 2500, 498),
    ],
)
def test_line_amount(unit_price: int, quantity: int, amount: int) -> None:
    assert line_amount(unit_price, quantity) == amount


@pytest.mark.parametrize(
    ("text", "milli"),
    [
        ("1", 1000),
        ("12", 12000),
        ("1.5", 1500),
        ("0.001", 1),
        ("1.000", 1000),
        ("2.5000", 2500),
        (" 3 ", 3000),
        (2, 2000),
        ("9999.999", 9_999_999),
    ],
)
def test_parse_quantity(text: str | int, milli: int) -> None:
    assert parse_quantity(text) == milli


@pytest.mark.parametrize(
    "text", ["0", "0.000", "-1", "-0.5", "0.0001", "1.2345", "", "two", "1e3", "NaN", 1.5, True, 0]
)
def test_parse_quantity_refuses(text: object) -> None:
    with pytest.raises(MoneyFormatError):
        parse_quantity(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("milli", "text"), [(12000, "12"), (1500, "1.5"), (1, "0.001"), (1230, "1.23"), (1000, "1")]
)
def test_format_quantity(milli: int, text: str) -> None:
    assert format_quantity(milli) == text


@pytest.mark.parametrize(
    ("text", "value"), [("0.70", "0.7"), ("1", "1"), ("0", "0"), ("0.1234", "0.1234")]
)
def test_parse_ratio(text: str, value: str) -> None:
    assert parse_ratio(text) == Decimal(value)


@pytest.mark.parametrize("text", ["1.01", "-0.1", "0.12345", "70%", 0.7, "x"])
def test_parse_ratio_refuses(text: object) -> None:
    with pytest.raises(MoneyFormatError):
        parse_ratio(text)  # type: ignore[arg-type]


def test_exact_int_refuses_a_fraction() -> None:
    assert exact_int(Decimal("12.000")) == 12
    with pytest.raises(MoneyFormatError):
        exact_int(Decimal("12.5"))


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_yuan_round_trip(fen: int) -> None:
    assert parse_yuan(format_yuan(fen), allow_negative=True) == fen


@given(st.integers(min_value=1, max_value=10**9))
def test_quantity_round_trip(milli: int) -> None:
    assert parse_quantity(format_quantity(milli)) == milli


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=1, max_value=10**7))
def test_line_amount_is_the_exact_product_rounded_half_up(price: int, milli: int) -> None:
    amount = line_amount(price, milli)
    exact = Decimal(price) * milli / 1000
    assert abs(Decimal(amount) - exact) <= Decimal("0.5")
    assert (Decimal(amount) - exact) != Decimal("-0.5")  # a half always goes up
