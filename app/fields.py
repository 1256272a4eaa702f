"""Marshmallow fields and the error schema shared by every edge of the app.

Every piece of data that crosses the boundary (API bodies and answers, page
JSON, CSV rows, the policy TOML) goes through a marshmallow schema built
from these fields:

* :class:`Yuan` loads a yuan string with at most two decimals into integer
  fen and dumps integer fen as a two-decimal yuan string — never a float;
* :class:`Quantity` loads a quantity string (or JSON integer) into integer
  thousandths and dumps them back as a decimal string;
* :class:`Text` refuses control characters (PostgreSQL refuses NUL in text,
  and none belongs in a name or a reason);
* :class:`StrictBoolean` takes JSON ``true``/``false`` only;
* :class:`ErrorSchema` is the one shape of every 4xx body, published in the
  OpenAPI document and produced by :mod:`app.web.errors`;
* :func:`field_problems` turns a schema's :class:`ValidationError` into
  :class:`~app.errors.Problem` s, one per message, in a stable order.

Loading checks shape only; what a value *means* is for ``rules.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields

from app.errors import Problem, ProblemCode
from app.money import (
    MoneyFormatError,
    format_quantity,
    format_yuan,
    parse_quantity,
    parse_yuan,
)

YUAN_PATTERN = r"^-?\d+\.\d{2}$"


class StrictSchema(Schema):
    """A request shape: unknown keys are an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class Text(fields.String):
    """A string without control characters."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "control": "must not contain control characters"
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            raise self.make_error("control")
        return text


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: not 1, "yes" or "on" (1 == True in Python)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Yuan(fields.Field):
    """Money: a yuan string with two decimals outside, integer fen inside.

    Loading accepts a string (``"12.5"``, ``"12.50"``) or a JSON integer of
    whole yuan; a JSON number with a fraction is refused because, once parsed,
    it is a binary float and no longer the amount that was typed.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": 'must be yuan as a string such as "12.50"',
        "format": "{reason}",
    }

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "pattern": YUAN_PATTERN,
            "example": "12.50",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)
        self.allow_negative = allow_negative

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_yuan(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        try:
            return parse_yuan(value, allow_negative=self.allow_negative)
        except MoneyFormatError as exc:
            raise self.make_error("format", reason=str(exc)) from exc


class Quantity(fields.Field):
    """A quantity: a decimal string (or JSON integer) outside, thousandths inside."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": (
            'must be a string such as "1.5" or a whole number; '
            "a JSON number with decimals is not exact, send it as a string"
        ),
        "too_long": "is too long",
        "format": "{reason}",
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "oneOf": [{"type": "string", "example": "12"}, {"type": "integer", "example": 12}],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_quantity(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        text = str(value)
        if len(text) > 20:
            raise self.make_error("too_long")
        try:
            return parse_quantity(text)
        except MoneyFormatError as exc:
            raise self.make_error("format", reason=str(exc)) from exc


class ErrorSchema(Schema):
    """Every API error: the failing fields by dotted path, each with its reasons.

    ``codes`` carries a stable machine code per field (``scope``, ``future``,
    ``frozen`` …), the key pages use to choose their translated message.
    """

    status = fields.Integer(required=True, metadata={"example": 422})
    error = fields.String(required=True, metadata={"example": "InvalidInput"})
    message = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"example": {"lines[0].quantity": ["must be greater than zero"]}},
    )
    codes = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"example": {"lines": "invalid"}}
    )


def field_problems(error: ValidationError, schema: Schema) -> list[Problem]:
    """Every message of ``error``, one :class:`Problem` each, named by dotted path.

    Keys the schema does not declare come first (sorted), then its fields in
    declaration order, so a file's problems read top to bottom like the schema.
    """
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    declared = list(schema.fields)

    def rank(key: str) -> tuple[int, int, str]:
        return (1, declared.index(key), "") if key in declared else (0, 0, key)

    problems: list[Problem] = []

    def walk(path: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                # A nested schema's own message (e.g. not a table) names the nested key.
                walk(path if key == "_schema" else f"{path}.{key}", inner)
        elif isinstance(value, list):
            for message in value:
                walk(path, message)
        else:
            problems.append(Problem(path, str(value), ProblemCode.BAD_SHAPE))

    for key, value in sorted(
        ((str(k), v) for k, v in messages.items()), key=lambda kv: rank(kv[0])
    ):
        walk(key, value)
    return problems
