"""The resident register: who lives where, how they are insured, and when they died.

Invariant (``ck_resident_died_after_birth``): a date of death is never before the birth
date the ID number holds.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import only_on
from app.extensions import Model
from app.places.models import Village


class Resident(Model):
    __tablename__ = "resident"
    __table_args__ = (
        CheckConstraint("length(id_number) = 18", name="id_number_18"),
        CheckConstraint(
            "insurance_type IN ('resident', 'employee', 'none')", name="insurance_type_known"
        ),
        CheckConstraint("sex IN ('M', 'F')", name="sex_known"),
        CheckConstraint(
            "insured_to IS NULL OR insured_from IS NULL OR insured_to >= insured_from",
            name="insured_period_ordered",
        ),
        # On SQLite the migration enforces it by triggers of the same name (no rebuild of
        # the table every visit points at).
        only_on(
            "postgresql",
            CheckConstraint("died_on IS NULL OR died_on >= birth_date", name="died_after_birth"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    hukou_village_code: Mapped[str] = mapped_column(ForeignKey("village.code"), index=True)
    insurance_type: Mapped[str] = mapped_column(String(10))
    insured_from: Mapped[dt.date | None] = mapped_column(Date)
    insured_to: Mapped[dt.date | None] = mapped_column(Date)
    # The civil-affairs date of death (SPEC §2): no visit at all on or after it.
    died_on: Mapped[dt.date | None] = mapped_column(Date)

    hukou_village: Mapped[Village] = relationship()
