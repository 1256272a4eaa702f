"""GB 11643 ID numbers: check digit, normalisation, impossible dates, masking."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.people.rules import (
    check_digit,
    id_number_problem,
    make_id_number,
    mask_id_number,
    mask_name,
    parse_id_number,
)


def test_check_digit_of_the_standard_example() -> None:
    # The example printed in GB 11643-1999: 11010519491231002X.
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"


def test_parse_derives_sex_and_birth_date() -> None:
    ident = parse_id_number("11010519491231002X")
    assert ident.value == "11010519491231002X"
    assert ident.birth_date == dt.date(1949, 12, 31)
    assert ident.sex == "F"  # 17th digit 2: even
    assert ident.region == "110105"
    male = parse_id_number("440524188001010014")
    assert male.sex == "M"  # 17th digit 1: odd


def test_lowercase_x_is_normalised() -> None:
    assert parse_id_number("11010519491231002x").value == "11010519491231002X"
    assert parse_id_number("  11010519491231002x ").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("11010519491231002", "must be 18 characters"),
        ("11010519491231002XX", "must be 18 characters"),
        ("1101051949123100AX", "must be 17 digits followed by a digit or X"),
        ("110105194912310021", "check digit is wrong"),
        ("", "must be 18 characters"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(text: str, reason: str) -> None:
    assert id_number_problem(text) == reason
    with pytest.raises(InvalidInput) as err:
        parse_id_number(text, "patient_id_number")
    assert err.value.field == "patient_id_number"
    assert reason in err.value.message


@pytest.mark.parametrize("birth", ["19900230", "19001301", "20230229", "19990000"])
def test_impossible_birth_dates_are_refused(birth: str) -> None:
    first17 = f"440114{birth}123"
    number = first17 + check_digit(first17)  # right check digit, impossible date
    assert id_number_problem(number) == "contains an impossible birth date"


def test_leap_day_is_a_real_birth_date() -> None:
    number = make_id_number("440114", dt.date(2000, 2, 29), 7)
    assert parse_id_number(number).birth_date == dt.date(2000, 2, 29)


@given(
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    serial=st.integers(min_value=0, max_value=999),
)
def test_made_numbers_round_trip(birth: dt.date, serial: int) -> None:
    number = make_id_number("440114", birth, serial)
    ident = parse_id_number(number.lower())
    assert ident.value == number
    assert ident.birth_date == birth
    assert ident.sex == ("M" if serial % 2 else "F")


@given(
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    serial=st.integers(min_value=0, max_value=999),
    position=st.integers(min_value=0, max_value=16),
    delta=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_is_caught(
    birth: dt.date, serial: int, position: int, delta: int
) -> None:
    number = make_id_number("440114", birth, serial)
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    # MOD 11-2 detects every single-digit error (the date may also become impossible).
    assert id_number_problem(changed) is not None


def test_masking_keeps_only_the_ends() -> None:
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_id_number("1234") == "****"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧***"
    assert mask_name("") == ""
