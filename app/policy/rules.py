"""Programme policy as a value, and which version applies on a day.

A :class:`Policy` holds every fee, ratio and cap the split engine uses; no
number of the programme is a literal anywhere else.  A policy file enters
only through :class:`app.policy.schemas.PolicyFileSchema`, which gives a
:class:`PolicyFile`.  Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from app.checks.rules import OversightPolicy

V = TypeVar("V")


@dataclass(frozen=True)
class Policy:
    """One policy version's parameters (SPEC §2). Money in fen."""

    registration_fee: int
    injection_fee: int
    fund_ratio: Decimal
    fund_deductible: int
    fund_annual_cap: int
    fund_visit_cap: int | None
    class_b_selfpay_ratio: Decimal
    class_b_selfpay_backstopped: bool
    require_insured: bool
    # SPEC §2: the district pays the part of a line above the item's price ceiling.
    over_ceiling_backstopped: bool = False
    # SPEC §2, §4: a visit needs at least one diagnosis.
    require_diagnosis: bool = False
    # Oversight (issue 11): the [checks], [flags], [review] and [auto_submit]
    # tables; the default is every one absent, all of it off.
    oversight: OversightPolicy = field(default_factory=OversightPolicy)
    # Reconciliation (issue 21): a settlement matched on ID number, date and amount
    # alone may be this many days from the visit (a settlement after an outage).
    settlement_date_tolerance_days: int = 1


@dataclass(frozen=True)
class PolicyFile:
    district: str
    effective_from: dt.date
    policy: Policy


def applicable_version(versions: list[tuple[dt.date, V]], day: dt.date) -> V | None:
    """The version with the latest ``effective_from`` ≤ ``day`` (SPEC §2), or None."""
    best: tuple[dt.date, V] | None = None
    for effective_from, version in versions:
        if effective_from <= day and (best is None or effective_from > best[0]):
            best = (effective_from, version)
    return best[1] if best else None
