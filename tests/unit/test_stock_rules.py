"""The drug stock's pure rules: the book, the visits beyond it, the flags."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from app.stock.rules import (
    ItemMonth,
    Move,
    StockFlagKind,
    month_bounds,
    month_flags,
    months_before,
    signed_quantity,
    stock_take_adjustment,
    visits_beyond_stock,
)

D = dt.date(2026, 10, 1)


def item(**changes: int) -> ItemMonth:
    values = {
        "opening": 0,
        "delivered": 20_000,
        "delivered_amount": 400,
        "dispensed": 12_000,
        "adjusted": 0,
        "window_delivered": 20_000,
    }
    values.update(changes)
    return ItemMonth("AMX01", "阿莫西林胶囊", "粒", None, **values)


def test_closing_is_opening_plus_the_months_moves() -> None:
    assert item(opening=5_000, adjusted=-1_000).closing == 5_000 + 20_000 - 12_000 - 1_000
    assert stock_take_adjustment(book=-4_000, counted=0) == 4_000
    assert signed_quantity(-4_500) == "-4.5" and signed_quantity(12_000) == "12"


def test_the_flags_name_what_went_wrong() -> None:
    assert month_flags([item()], Fraction(2)) == []
    (over,) = month_flags([item(dispensed=24_000)], None)  # far-above not checked
    assert over.kind is StockFlagKind.OVERDRAWN
    kinds = {f.kind for f in month_flags([item(dispensed=50_000, opening=40_000)], Fraction(2))}
    assert kinds == {StockFlagKind.FAR_ABOVE}  # the shelf had it, but 2.5× the deliveries


def test_only_the_visits_that_dispensed_what_was_not_there_are_beyond_the_stock() -> None:
    moves = [
        Move(D, 1, dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC), 1, -12_000),
        Move(D, 0, quantity=20_000),  # the morning's delivery comes first
        Move(D + dt.timedelta(days=1), 1, dt.datetime(2026, 10, 2, 9, tzinfo=dt.UTC), 2, -12_000),
        Move(D + dt.timedelta(days=1), 2, quantity=4_000),  # the evening's count
        Move(D + dt.timedelta(days=2), 1, dt.datetime(2026, 10, 3, 9, tzinfo=dt.UTC), 3, -1_000),
    ]
    assert visits_beyond_stock(0, moves) == (2, 3)  # the count found 0, then 1 more out
    assert visits_beyond_stock(5_000, moves) == ()


def test_months() -> None:
    assert months_before("2026-02", 2) == "2025-12"
    assert month_bounds("2026-12") == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
