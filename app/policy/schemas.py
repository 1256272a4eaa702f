"""The shape of a policy TOML file (SPEC §2): the one way a policy enters the app.

Guarantees, for a parsed TOML document loaded through :class:`PolicyFileSchema`:

* every key is known: an unknown key is refused, naming it;
* fees and caps are yuan in quotes (:class:`~app.fields.Yuan`), read exactly
  into fen — a TOML number is refused, a float has already lost the amount;
* ratios are in quotes, between 0 and 1 with at most four decimals (the
  stored scale), read by :func:`app.money.parse_ratio` into ``Decimal``;
* booleans are TOML ``true``/``false`` only, not ``"yes"`` or ``1``;
* ``fund_visit_cap`` is optional: an absent key means no cap per visit;
* ``over_ceiling_backstopped`` and ``require_diagnosis`` are optional, false
  when absent;
* ``[checks]`` is optional (absent: every check at recording is off); each
  rule is ``"off"``, ``"warn"`` or ``"block"``, each threshold a whole number
  in its range, required when the rule that reads it is on, and its problems
  name the key, e.g. ``checks.split_visit``;
* ``[flags]``, ``[review]`` and ``[auto_submit]`` are optional (absent: no
  peer flags; every statement reviewed by a person; never submitted for the
  doctor); a table that is there has every one of its keys, nothing falls back
  to a number in the code;
* ``effective_from`` is a TOML date (not a date-time), ``district`` a 6-digit
  code in quotes;
* every problem is reported, each naming its key (unknown keys first, then
  the keys in the order SPEC §2 lists them), and the result is a
  :class:`~app.policy.rules.PolicyFile`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from app.checks.rules import (
    CHECK_THRESHOLDS,
    FlagPolicy,
    OversightPolicy,
    ReviewPolicy,
    Rule,
    Severity,
)
from app.errors import Problem
from app.fields import StrictBoolean, StrictSchema, Text, Yuan, field_problems
from app.money import MoneyFormatError, parse_ratio
from app.policy.rules import Policy, PolicyFile


class QuotedYuan(Yuan):
    """Yuan as a TOML string only (SPEC §2 quotes every amount)."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": 'must be yuan in quotes, e.g. "1.00"'
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Ratio(fields.Field):
    """A share in quotes, ``"0.70"``: 0 to 1, at most four decimals, as ``Decimal``."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": 'must be a ratio in quotes, e.g. "0.70"',
        "format": "{reason}",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_ratio(value)  # four places: the stored scale, RATIO_SCALE
        except MoneyFormatError as exc:
            raise self.make_error("format", reason=str(exc)) from exc


class TomlDate(fields.Date):
    """A TOML date (``2026-01-01`` unquoted); a date-time or a string is refused."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": "must be a date like 2026-01-01"
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.make_error("invalid")
        return value


def _severity() -> Text:
    choices = [s.value for s in Severity]
    return Text(
        load_default=None,
        validate=validate.OneOf(choices, error='must be "off", "warn" or "block"'),
        error_messages={"invalid": 'must be "off", "warn" or "block"'},
    )


class Score(fields.Field):
    """A positive decimal in quotes, ``"3.5"``, read exactly as a ``Fraction``."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": 'must be a positive decimal in quotes, e.g. "3.5"',
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Fraction:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not number.is_finite() or number <= 0 or number > 1000:
            raise self.make_error("invalid")
        return Fraction(number)


def _whole(low: int, high: int, *, required: bool = False) -> fields.Integer:
    message = f"must be a whole number from {low} to {high}"
    optional: dict[str, Any] = {} if required else {"load_default": None}
    return fields.Integer(
        strict=True,
        required=required,
        validate=validate.Range(low, high, error=message),
        error_messages={"invalid": message, "required": f"is required ({message[8:]})"},
        **optional,
    )


class ChecksSchema(StrictSchema):
    """The optional ``[checks]`` table: each rule off, warn or block, and its thresholds.

    A rule not named is off.  A rule that is on needs its thresholds:
    ``frequent_visits`` its ``frequent_visits_max`` and ``frequent_visits_days``,
    ``late_entry`` its ``late_entry_hours`` (which, when given, also says what
    counts as late for the peer figures and the review worklist).
    """

    error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "unknown": "unknown key",
        "type": "must be a table of rules, e.g. [checks]",
    }

    quantity_over_max = _severity()
    frequent_visits = _severity()
    split_visit = _severity()
    early_refill = _severity()
    injection_without_injectable = _severity()
    injectable_without_injection = _severity()
    unsuited_item = _severity()
    late_entry = _severity()
    no_diagnosis = _severity()
    off_indication = _severity()
    unsuited_diagnosis = _severity()
    frequent_visits_max = _whole(1, 100)
    frequent_visits_days = _whole(1, 366)
    late_entry_hours = _whole(1, 24 * 366)

    @validates_schema
    def thresholds_of_rules_on(self, data: dict[str, Any], **kwargs: Any) -> None:
        needs = {
            "frequent_visits": ("frequent_visits_max", "frequent_visits_days"),
            "late_entry": ("late_entry_hours",),
        }
        missing = {
            key: [f"is required when {rule} is {data[rule]}"]
            for rule, keys in needs.items()
            if data.get(rule) not in (None, Severity.OFF.value)
            for key in keys
            if data.get(key) is None
        }
        if missing:
            raise ValidationError(missing)

    @post_load
    def make_policy(self, data: dict[str, Any], **kwargs: Any) -> OversightPolicy:
        severities = {
            Rule(name): Severity(value)
            for name, value in data.items()
            if name not in CHECK_THRESHOLDS and value not in (None, Severity.OFF.value)
        }
        thresholds = {n: data[n] for n in CHECK_THRESHOLDS if data.get(n) is not None}
        return OversightPolicy(severities=severities, **thresholds)


def _table_errors(table: str) -> dict[str, str]:
    """What an optional oversight table's schema says of an unknown key or a non-table."""
    return {"unknown": "unknown key", "type": f"must be a table, e.g. [{table}]"}


class FlagsSchema(StrictSchema):
    """The optional ``[flags]`` table: risk flags against the district's peers (median, MAD)."""

    error_messages = _table_errors("flags")

    threshold = Score(required=True, error_messages={"required": 'is required, e.g. "3.5"'})
    min_peers = _whole(3, 10000, required=True)
    min_count = _whole(1, 10000, required=True)
    # Optional: the drug-stock check's multiple (absent: dispensing is not compared with
    # deliveries; the stock statement still flags dispensing more than was delivered).
    stock_far_above = Score(load_default=None)

    @post_load
    def make_policy(self, data: dict[str, Any], **kwargs: Any) -> FlagPolicy:
        return FlagPolicy(**data)


class ReviewSchema(StrictSchema):
    """The optional ``[review]`` table: credit-first payment and the sampled worklist."""

    error_messages = _table_errors("review")

    trusted_after_months = _whole(1, 60, required=True)
    sample_percent = _whole(0, 100, required=True)
    sample_above = QuotedYuan(required=True)

    @post_load
    def make_policy(self, data: dict[str, Any], **kwargs: Any) -> ReviewPolicy:
        return ReviewPolicy(**data)


class AutoSubmitSchema(StrictSchema):
    """The optional ``[auto_submit]`` table: the day the system submits unconfirmed months."""

    error_messages = _table_errors("auto_submit")

    # 28 at most: every month has that day.
    day = _whole(1, 28, required=True)


_BOOLEAN: dict[str, Any] = {
    "invalid": "must be true or false",
    "required": "is required (true or false)",
}


class PolicyFileSchema(StrictSchema):
    """One policy version of one district, as the bureau writes it."""

    error_messages = {"unknown": "unknown key"}  # noqa: RUF012 (marshmallow's own convention)

    district = Text(
        required=True,
        validate=validate.Regexp(r"^\d{6}$", error="must be a 6-digit district code in quotes"),
        error_messages={
            "invalid": "must be a 6-digit district code in quotes",
            "required": "is required (a 6-digit district code in quotes)",
        },
    )
    effective_from = TomlDate(
        required=True, error_messages={"required": "is required (a date like 2026-01-01)"}
    )
    registration_fee = QuotedYuan(required=True)
    injection_fee = QuotedYuan(required=True)
    fund_ratio = Ratio(required=True)
    fund_deductible = QuotedYuan(required=True)
    fund_annual_cap = QuotedYuan(required=True)
    fund_visit_cap = QuotedYuan(load_default=None)
    class_b_selfpay_ratio = Ratio(required=True)
    class_b_selfpay_backstopped = StrictBoolean(required=True, error_messages=_BOOLEAN)
    require_insured = StrictBoolean(required=True, error_messages=_BOOLEAN)
    over_ceiling_backstopped = StrictBoolean(load_default=False, error_messages=_BOOLEAN)
    require_diagnosis = StrictBoolean(load_default=False, error_messages=_BOOLEAN)
    # Days a settlement matched on ID number, date and amount may lie from the visit.
    settlement_date_tolerance_days = _whole(0, 60)
    checks = fields.Nested(
        ChecksSchema,
        load_default=None,
    )
    flags = fields.Nested(
        FlagsSchema,
        load_default=None,
    )
    review = fields.Nested(
        ReviewSchema,
        load_default=None,
    )
    auto_submit = fields.Nested(
        AutoSubmitSchema,
        load_default=None,
    )

    @post_load
    def make_policy_file(self, data: dict[str, Any], **kwargs: Any) -> PolicyFile:
        district, effective_from = data.pop("district"), data.pop("effective_from")
        checks: OversightPolicy = data.pop("checks") or OversightPolicy()
        auto_submit = data.pop("auto_submit")
        oversight = replace(
            checks,
            flags=data.pop("flags"),
            review=data.pop("review"),
            auto_submit_day=auto_submit["day"] if auto_submit else None,
        )
        tolerance = data.pop("settlement_date_tolerance_days")
        return PolicyFile(
            district,
            effective_from,
            Policy(
                **data,
                oversight=oversight,
                settlement_date_tolerance_days=1 if tolerance is None else tolerance,
            ),
        )


def read_policy(doc: Mapping[str, Any]) -> tuple[PolicyFile | None, list[Problem]]:
    """A parsed policy file as a :class:`PolicyFile`, or every problem, each naming its key."""
    schema = PolicyFileSchema()
    try:
        return schema.load(doc), []
    except ValidationError as exc:
        return None, field_problems(exc, schema)
