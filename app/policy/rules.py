"""Programme policy as a value, and the pure reading of a policy file.

A :class:`Policy` holds every fee, ratio and cap the split engine uses; no
number of the programme is a literal anywhere else.  :func:`read_policy`
checks a parsed TOML mapping and returns the policy or the list of problems,
each naming its key.  Pure: no Flask, no SQLAlchemy, no clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from app.errors import Problem
from app.money import MoneyFormatError, parse_ratio, parse_yuan

DISTRICT_CODE = re.compile(r"^\d{6}$")
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


@dataclass(frozen=True)
class PolicyFile:
    district: str
    effective_from: dt.date
    policy: Policy


_MONEY_KEYS = ("registration_fee", "injection_fee", "fund_deductible", "fund_annual_cap")
_RATIO_KEYS = ("fund_ratio", "class_b_selfpay_ratio")
_BOOL_KEYS = ("class_b_selfpay_backstopped", "require_insured")
_KNOWN = {"district", "effective_from", "fund_visit_cap", *_MONEY_KEYS, *_RATIO_KEYS, *_BOOL_KEYS}


def read_policy(doc: Mapping[str, Any]) -> tuple[PolicyFile | None, list[Problem]]:
    """Check a parsed policy file; money and ratios must be quoted strings."""
    problems: list[Problem] = [Problem(key, "unknown key") for key in sorted(set(doc) - _KNOWN)]
    values: dict[str, Any] = {}

    district = doc.get("district")
    if not isinstance(district, str) or not DISTRICT_CODE.match(district):
        problems.append(Problem("district", "must be a 6-digit district code in quotes"))
    effective_from = doc.get("effective_from")
    if isinstance(effective_from, dt.datetime) or not isinstance(effective_from, dt.date):
        problems.append(Problem("effective_from", "must be a date like 2026-01-01"))

    for key in _MONEY_KEYS:
        raw = doc.get(key)
        if not isinstance(raw, str):
            problems.append(Problem(key, 'must be yuan in quotes, e.g. "1.00"'))
            continue
        try:
            values[key] = parse_yuan(raw)
        except MoneyFormatError as exc:
            problems.append(Problem(key, str(exc)))
    values["fund_visit_cap"] = None
    if "fund_visit_cap" in doc:
        raw = doc["fund_visit_cap"]
        try:
            if not isinstance(raw, str):
                raise MoneyFormatError('must be yuan in quotes, e.g. "30.00"')
            values["fund_visit_cap"] = parse_yuan(raw)
        except MoneyFormatError as exc:
            problems.append(Problem("fund_visit_cap", str(exc)))
    for key in _RATIO_KEYS:
        raw = doc.get(key)
        try:
            if not isinstance(raw, str):
                raise MoneyFormatError('must be a ratio in quotes, e.g. "0.70"')
            values[key] = parse_ratio(raw)
        except MoneyFormatError as exc:
            problems.append(Problem(key, str(exc)))
    for key in _BOOL_KEYS:
        raw = doc.get(key)
        if not isinstance(raw, bool):
            problems.append(Problem(key, "must be true or false"))
        values[key] = raw

    if problems:
        return None, problems
    assert isinstance(district, str) and isinstance(effective_from, dt.date)
    return PolicyFile(district, effective_from, Policy(**values)), []


def applicable_version(versions: list[tuple[dt.date, V]], day: dt.date) -> V | None:
    """The version with the latest ``effective_from`` ≤ ``day`` (SPEC §2), or None."""
    best: tuple[dt.date, V] | None = None
    for effective_from, version in versions:
        if effective_from <= day and (best is None or effective_from > best[0]):
            best = (effective_from, version)
    return best[1] if best else None
