"""The shape of a policy TOML file (SPEC §2): the one way a policy enters the app.

Guarantees, for a parsed TOML document loaded through :class:`PolicyFileSchema`:

* every key is known: an unknown key is refused, naming it;
* fees and caps are yuan in quotes (:class:`~app.fields.Yuan`), read exactly
  into fen — a TOML number is refused, a float has already lost the amount;
* ratios are in quotes, between 0 and 1 with at most four decimals (the
  stored scale), read by :func:`app.money.parse_ratio` into ``Decimal``;
* booleans are TOML ``true``/``false`` only, not ``"yes"`` or ``1``;
* ``fund_visit_cap`` is optional: an absent key means no cap per visit;
* ``[checks]`` is optional (absent: every check at recording is off); each
  rule is ``"off"``, ``"warn"`` or ``"block"``, each threshold a whole number
  in its range, and its problems name the key, e.g. ``checks.split_visit``;
* ``effective_from`` is a TOML date (not a date-time), ``district`` a 6-digit
  code in quotes;
* every problem is reported, each naming its key (unknown keys first, then
  the keys in the order SPEC §2 lists them), and the result is a
  :class:`~app.policy.rules.PolicyFile`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from app.errors import Problem
from app.fields import StrictBoolean, StrictSchema, Text, Yuan, field_problems
from app.money import MoneyFormatError, parse_ratio
from app.oversight.rules import CHECK_THRESHOLDS, OversightPolicy, Rule, Severity
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


def _whole(low: int, high: int) -> fields.Integer:
    return fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(low, high, error=f"must be a whole number from {low} to {high}"),
        error_messages={"invalid": f"must be a whole number from {low} to {high}"},
    )


class ChecksSchema(StrictSchema):
    """The optional ``[checks]`` table: each rule off, warn or block, and its thresholds.

    A rule not named is off; a threshold not named keeps the
    :class:`~app.oversight.rules.OversightPolicy` default.
    """

    error_messages = {"unknown": "unknown key"}  # noqa: RUF012 (marshmallow's own convention)

    quantity_over_max = _severity()
    frequent_visits = _severity()
    split_visit = _severity()
    early_refill = _severity()
    injection_without_injectable = _severity()
    injectable_without_injection = _severity()
    unsuited_item = _severity()
    late_entry = _severity()
    frequent_visits_max = _whole(1, 100)
    frequent_visits_days = _whole(1, 366)
    late_entry_hours = _whole(1, 24 * 366)

    @post_load
    def make_policy(self, data: dict[str, Any], **kwargs: Any) -> OversightPolicy:
        severities = {
            Rule(name): Severity(value)
            for name, value in data.items()
            if name not in CHECK_THRESHOLDS and value not in (None, Severity.OFF.value)
        }
        thresholds = {n: data[n] for n in CHECK_THRESHOLDS if data.get(n) is not None}
        return OversightPolicy(severities=severities, **thresholds)


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
    checks = fields.Nested(
        ChecksSchema,
        load_default=None,
        error_messages={"type": "must be a table of rules, e.g. [checks]"},
    )

    @post_load
    def make_policy_file(self, data: dict[str, Any], **kwargs: Any) -> PolicyFile:
        district, effective_from = data.pop("district"), data.pop("effective_from")
        return PolicyFile(district, effective_from, Policy(**data))


def read_policy(doc: Mapping[str, Any]) -> tuple[PolicyFile | None, list[Problem]]:
    """A parsed policy file as a :class:`PolicyFile`, or every problem, each naming its key."""
    schema = PolicyFileSchema()
    try:
        return schema.load(doc), []
    except ValidationError as exc:
        return None, field_problems(exc, schema)
