"""What a user types for a day, a month or a visit time (issue 10 item 10): the forms
users write on paper are read, anything else is refused (None), never guessed."""

from __future__ import annotations

import datetime as dt

import pytest

from app.localtime import parse_typed_day, parse_typed_minute, parse_typed_month


@pytest.mark.parametrize(
    "text", ["2026-11-29", "2026/11/29", "20261129", "2026.11.29", " 2026-11-29 ", "2026／11／29"]
)
def test_a_day_in_the_usual_forms(text: str) -> None:
    assert parse_typed_day(text) == dt.date(2026, 11, 29)


@pytest.mark.parametrize(
    "text", ["", "11/29/2026", "29/11/2026", "2026-02-30", "2026/11-29", "2026-11", "x", None]
)
def test_not_a_day(text: str | None) -> None:
    assert parse_typed_day(text) is None


@pytest.mark.parametrize("text", ["2026-11", "2026/11", "202611", "2026／11"])
def test_a_month_in_the_usual_forms(text: str) -> None:
    assert parse_typed_month(text) == "2026-11"


@pytest.mark.parametrize("text", ["", "2026-13", "11/2026", "1999-12", "2026-11-29", "2026-00"])
def test_not_a_month(text: str) -> None:
    assert parse_typed_month(text) is None


@pytest.mark.parametrize(
    "text", ["2026-11-29 09:30", "2026/11/29 9:30", "2026-11-29T09:30", "20261129 0930"]
)
def test_a_visit_time(text: str) -> None:
    assert parse_typed_minute(text) == dt.datetime(2026, 11, 29, 9, 30)


@pytest.mark.parametrize("text", ["2026-11-29", "2026-11-29 24:00", "11/29/2026 09:30", "9:30"])
def test_not_a_visit_time(text: str) -> None:
    assert parse_typed_minute(text) is None
