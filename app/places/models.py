"""Districts, towns, administrative villages and the village clinics in them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model


class District(Model):
    __tablename__ = "district"
    __table_args__ = (CheckConstraint("length(code) = 6", name="code_6_digits"),)

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))


class Town(Model):
    __tablename__ = "town"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), index=True)

    district: Mapped[District] = relationship()


class Village(Model):
    """An administrative village (行政村) or an urban community (社区)."""

    __tablename__ = "village"
    __table_args__ = (
        CheckConstraint("kind IN ('village', 'community')", name="kind_known"),
        CheckConstraint("length(code) = 12", name="code_12_digits"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    town_code: Mapped[str] = mapped_column(ForeignKey("town.code"), index=True)

    town: Mapped[Town] = relationship()

    @property
    def district_code(self) -> str:
        return self.town.district_code


class Clinic(Model):
    """A village clinic (村卫生站); in the programme while joined_on ≤ d < left_on."""

    __tablename__ = "clinic"
    __table_args__ = (
        CheckConstraint(
            "left_on IS NULL OR joined_on IS NULL OR left_on > joined_on", name="left_after_joined"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    village_code: Mapped[str] = mapped_column(ForeignKey("village.code"), index=True)
    insurance_code: Mapped[str | None] = mapped_column(String(30))
    joined_on: Mapped[dt.date | None] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)

    village: Mapped[Village] = relationship()

    @property
    def district_code(self) -> str:
        return self.village.town.district_code

    @property
    def town_code(self) -> str:
        return self.village.town_code
