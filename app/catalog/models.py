"""The catalogue of drugs, materials and service items, with price history.

A visit uses the price valid on its date (``valid_from`` ≤ d ≤ ``valid_to``,
both inclusive, open ``valid_to``); prices never come from the client.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.rules import FEE_CLASSES
from app.extensions import Model


class CatalogItem(Model):
    __tablename__ = "catalog_item"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('consultation', 'drug', 'service', 'material')", name="kind_known"
        ),
        CheckConstraint("insurance_class IN ('A', 'B', 'C')", name="class_known"),
        CheckConstraint("sex IS NULL OR sex IN ('M', 'F')", name="sex_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))
    insurance_class: Mapped[str] = mapped_column(String(1))
    # Pinyin initials of the name (阿莫西林胶囊 → "amxljn") for keyboard search.
    pinyin: Mapped[str] = mapped_column(String(100), default="", index=True)
    # What the checks at recording (app.oversight) know of an item; None: not checked.
    max_per_visit: Mapped[int | None]  # thousandths of a unit, per visit
    units_per_day: Mapped[int | None]  # thousandths of a unit a day (days' supply)
    injectable: Mapped[bool | None]
    sex: Mapped[str | None] = mapped_column(String(1))  # "M" or "F": suits only that sex
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    # Diagnosis code prefixes the item is indicated for ("J06 J20 J40"), for the
    # off_indication check; None: not checked.
    indications: Mapped[str | None] = mapped_column(String(200))

    prices: Mapped[list[ItemPrice]] = relationship(
        back_populates="item", order_by="ItemPrice.valid_from"
    )


_FEE_CLASS_LIST = ", ".join(f"'{code}'" for code in FEE_CLASSES)


class ItemPrice(Model):
    """A price period of an item, with the national catalogue's fields valid over it.

    ``national_code`` (医保目录编码, sent as ``med_list_codg``), ``fee_class``
    (``med_chrgitm_type``), ``selfpay_ratio`` (先行自付比例, ten-thousandths like
    the policy's ratios; None: the policy's class-B ratio for class B, 0
    otherwise) and ``price_ceiling`` (医保支付限价, fen per unit; None: none).
    """

    __tablename__ = "item_price"
    __table_args__ = (
        UniqueConstraint("item_id", "valid_from"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period_ordered"),
        CheckConstraint(
            f"fee_class IS NULL OR fee_class IN ({_FEE_CLASS_LIST})", name="fee_class_known"
        ),
        CheckConstraint(
            "selfpay_ratio IS NULL OR selfpay_ratio BETWEEN 0 AND 10000",
            name="selfpay_ratio_in_range",
        ),
        CheckConstraint("price_ceiling IS NULL OR price_ceiling >= 0", name="ceiling_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_item.id"), index=True)
    price: Mapped[int]  # fen
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    national_code: Mapped[str | None] = mapped_column(String(50))
    fee_class: Mapped[str | None] = mapped_column(String(2))
    selfpay_ratio: Mapped[int | None]
    price_ceiling: Mapped[int | None]

    item: Mapped[CatalogItem] = relationship(back_populates="prices")


class Diagnosis(Model):
    """A code of the national medical-insurance diagnosis list or of the TCM list.

    医保疾病诊断分类与代码 (ICD-10 based, e.g. ``J06.900``) or 中医病证 codes,
    with the validity the list gives them (both dates inclusive, open
    ``valid_to``); a visit may use a code valid on its date.  One row per code:
    a re-import updates it.
    """

    __tablename__ = "diagnosis"
    __table_args__ = (
        CheckConstraint("system IN ('western', 'tcm')", name="system_known"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    # Pinyin initials of the name (急性上呼吸道感染 → "jxshxdgr") for keyboard search.
    pinyin: Mapped[str] = mapped_column(String(100), default="", index=True)
