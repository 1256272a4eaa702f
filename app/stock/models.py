"""Drug stock (进销存): deliveries in and stock-takes; what is dispensed is the visits' lines.

Invariants enforced by the database:

* ``ck_stock_delivery_positive``: a delivery brings a positive quantity at a
  price not below zero, and its amount is ``round(price × quantity)`` (stored,
  computed by the import);
* a delivery is keyed by clinic, item, batch and day (``uq_stock_delivery``):
  re-importing the list changes nothing, a corrected row updates;
* ``ck_stock_take_adjusts_to_count``: a stock-take's ``adjustment = counted −
  book``; one count per clinic, item and day.

Dispensed quantities are not stored here: they are the clinic's month per item
(``clinic_month_item``, kept by recording and voiding under the clinic-month
lock) and, within a month, the visit lines themselves.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime
from app.extensions import Model


class StockDelivery(Model):
    """One line of the centralised-procurement delivery list (集中采购配送单) of a clinic."""

    __tablename__ = "stock_delivery"
    __table_args__ = (
        UniqueConstraint(
            "clinic_id", "item_code", "batch_number", "delivered_on", name="uq_stock_delivery"
        ),
        CheckConstraint("quantity > 0 AND price >= 0 AND amount >= 0", name="positive"),
        Index("ix_stock_delivery_clinic_day", "clinic_id", "delivered_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_item.id"))
    item_code: Mapped[str] = mapped_column(String(30))
    national_code: Mapped[str | None] = mapped_column(String(50))
    batch_number: Mapped[str] = mapped_column(String(40))
    expiry: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(BigInteger)  # thousandths of the catalogue's unit
    price: Mapped[int]  # fen per unit
    amount: Mapped[int] = mapped_column(BigInteger)  # fen
    supplier: Mapped[str] = mapped_column(String(100))
    approval_number: Mapped[str] = mapped_column(String(60))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StockTake(Model):
    """A count of one item on the clinic's shelf at the end of a day (盘存)."""

    __tablename__ = "stock_take"
    __table_args__ = (
        UniqueConstraint("clinic_id", "item_code", "taken_on"),
        CheckConstraint("counted >= 0 AND adjustment = counted - book", name="adjusts_to_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    item_code: Mapped[str] = mapped_column(String(30))
    taken_on: Mapped[dt.date] = mapped_column(Date)
    counted: Mapped[int] = mapped_column(BigInteger)
    book: Mapped[int] = mapped_column(BigInteger)  # what the book said at the end of that day
    adjustment: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
