"""Drug stock (进销存) of a village clinic: the month's moves per item, and their flags.

Guarantees (pure: no Flask, no SQLAlchemy, no clock):

* a month's row per item holds ``closing = opening + delivered − dispensed +
  adjusted`` exactly (quantities in thousandths of the catalogue's unit), and
  the next month's opening is this closing: every figure is a sum over
  deliveries, visit lines and stock-takes up to a day, never stored twice;
* a stock-take's adjustment is ``counted − book`` on its day, so after it the
  book equals what was counted;
* the flags are a closed set (:class:`StockFlagKind`), each with the item it is
  about and the visits behind it: dispensing more than was ever delivered (the
  book goes below zero: the visits from the one that crossed zero on), a
  month's dispensing far above the deliveries of that month and the two before
  (the policy's ``[flags] stock_far_above``; absent: not checked), and one
  traceability code (药品追溯码) dispensed on two visits (a pack is sold once).

The rows follow the platform's stock interface (3501 盘存, 3502 库存变更, 3503
采购, 3505 销售): opening stock, purchases in, sales out, stock-take
adjustments, closing stock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from app.money import format_quantity

STOCKED_KINDS = ("drug", "material")  # what a clinic buys in and dispenses by the unit
WINDOW_MONTHS = 3  # the far-above check: deliveries of the month and the two before


class StockFlagKind(StrEnum):
    OVERDRAWN = "dispensed_over_delivered"
    FAR_ABOVE = "dispensed_far_above"
    TRACE_TWICE = "trace_code_twice"


@dataclass(frozen=True)
class ItemMonth:
    """One item's month at one clinic (quantities in thousandths, money in fen)."""

    item_code: str
    name: str
    unit: str
    national_code: str | None
    opening: int
    delivered: int
    delivered_amount: int
    dispensed: int
    adjusted: int
    window_delivered: int  # deliveries in the month and the WINDOW_MONTHS − 1 before

    @property
    def closing(self) -> int:
        return self.opening + self.delivered - self.dispensed + self.adjusted


@dataclass(frozen=True)
class StockFlag:
    kind: StockFlagKind
    item_code: str
    item_name: str
    visit_ids: tuple[int, ...] = ()
    detail: str = ""  # the trace code, or the figures, for the words


def month_flags(rows: Iterable[ItemMonth], far_above: Fraction | None) -> list[StockFlag]:
    """The item flags of a month (the visits behind them are found by the caller)."""
    flags: list[StockFlag] = []
    for row in rows:
        if row.closing < 0:
            flags.append(StockFlag(StockFlagKind.OVERDRAWN, row.item_code, row.name))
        if far_above is not None and row.dispensed > far_above * row.window_delivered:
            flags.append(StockFlag(StockFlagKind.FAR_ABOVE, row.item_code, row.name))
    return flags


@dataclass(frozen=True, order=True)
class Move:
    """One event of an item's book within a month, in the order the book takes them."""

    day: dt.date
    order: int  # 0 deliveries (in the morning), 1 dispensing, 2 stock-takes (at close)
    at: dt.datetime | None = None  # a dispensing's time
    visit_id: int = 0
    quantity: int = field(default=0, compare=False)  # signed: + in, − out


def visits_beyond_stock(opening: int, moves: Sequence[Move]) -> tuple[int, ...]:
    """The visits that dispensed with the book at or below zero after them.

    The book starts at ``opening`` and takes ``moves`` in order; a dispensing
    that leaves it below zero dispensed what the clinic did not have.
    """
    book = opening
    beyond: list[int] = []
    for move in sorted(moves):
        book += move.quantity
        if move.order == 1 and book < 0:
            beyond.append(move.visit_id)
    return tuple(beyond)


def signed_quantity(milli: int) -> str:
    """A book quantity, which may be below zero: ``-1500`` → ``"-1.5"``."""
    return ("-" if milli < 0 else "") + format_quantity(abs(milli))


def stock_take_adjustment(book: int, counted: int) -> int:
    """What a count changes: the book becomes what was counted."""
    return counted - book


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first day of ``month`` (``YYYY-MM``) and the first day after it."""
    year, mon = int(month[:4]), int(month[5:7])
    first = dt.date(year, mon, 1)
    after = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return first, after


def months_before(month: str, count: int) -> str:
    """The month ``count`` months before ``month``."""
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
