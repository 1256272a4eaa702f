"""Marshmallow schemas of the visit API (SPEC §6).

Request schemas check *shape* only — types, required keys, no unknown keys
(``unknown=RAISE``) — and hand the operations plain values.  What the values
*mean* (a valid ID number, a known item, a positive quantity, an open month)
is checked by :mod:`app.visits.rules` and :mod:`app.visits.operations`, which
raise domain errors naming the field.

Response schemas mirror :mod:`app.visits.present` field for field; they are
what the OpenAPI document shows, and a test proves that dumping through them
loses nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from app.visits.operations import LineRequest, VisitRequest

MAX_PER_PAGE = 200
MAX_PAGE = 100_000

# Query dates outside these are typos (and the extremes overflow time-zone arithmetic).
DATES = validate.Range(
    min=dt.date(2000, 1, 1), max=dt.date(2099, 12, 31), error="must be between {min} and {max}"
)

YUAN = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "12.50"}


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# --- request shapes -------------------------------------------------------------


class QuantityField(fields.Field):
    """A quantity as a JSON string (``"1.5"``) or a JSON integer (``2``).

    A JSON number with a fraction is refused: once parsed it is a binary float
    and the decimals the doctor typed are no longer known exactly.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": (
            'must be a string such as "1.5" or a whole number; '
            "a JSON number with decimals is not exact, send it as a string"
        ),
        "too_long": "is too long",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        text = str(value)
        if len(text) > 20:
            raise self.make_error("too_long")
        return text

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value)


class Text(fields.String):
    """A string without control characters (PostgreSQL refuses NUL in text)."""

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


class LineInSchema(StrictSchema):
    item = Text(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "Catalogue item code", "example": "AMX01"},
    )
    quantity = QuantityField(
        required=True,
        metadata={
            "description": (
                "Positive, at most three decimals. A string, or a JSON integer; "
                "a JSON number with decimals is refused (it is not exact)."
            ),
            "oneOf": [{"type": "string", "example": "12"}, {"type": "integer", "example": 12}],
        },
    )


class VisitInSchema(StrictSchema):
    """The body of ``POST /visits`` and ``POST /visits/quote``."""

    clinic = Text(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Clinic code", "example": "HD001"},
    )
    patient_id_number = Text(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "18-character citizen ID number (GB 11643)"},
    )
    visited_at = fields.AwareDateTime(
        format="iso",
        load_default=None,
        allow_none=True,
        metadata={
            "description": (
                "ISO-8601 with a UTC offset, e.g. 2026-10-15T09:30:00+08:00; "
                "defaults to now. A time without an offset is refused."
            )
        },
    )
    injection = StrictBoolean(
        load_default=False, metadata={"description": "true or false; default false"}
    )
    lines = fields.List(fields.Nested(LineInSchema), required=True)

    @post_load
    def make_request(self, data: dict[str, Any], **_: Any) -> VisitRequest:
        return VisitRequest(
            clinic=data["clinic"],
            patient_id_number=data["patient_id_number"],
            injection=data["injection"],
            lines=tuple(LineRequest(line["item"], line["quantity"]) for line in data["lines"]),
            visited_at=data["visited_at"],
        )


class IdempotencyHeaderSchema(Schema):
    # Other headers are ignored (a request carries many); only this one is read.
    idempotency_key = Text(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": (
                "Any client-chosen string (1–100 characters), one per intended visit. "
                "A retry with the same key and body returns the first visit; the same "
                "key with a different body is a 409."
            )
        },
    )


class VoidInSchema(StrictSchema):
    reason = Text(
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": "Why the visit is voided (required, at most 200 characters)"},
    )


class VisitListArgsSchema(StrictSchema):
    clinic = Text(
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "Clinic code; required except for a doctor (defaults to his clinic)"
        },
    )
    date_from = fields.Date(
        validate=DATES, metadata={"description": "First day, Asia/Shanghai, inclusive"}
    )
    date_to = fields.Date(
        validate=DATES, metadata={"description": "Last day, Asia/Shanghai, inclusive"}
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))

    @post_load
    def check_range(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ValidationError("must not be before date_from", "date_to")
        return data


class EligibilityArgsSchema(StrictSchema):
    clinic = Text(
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "Clinic code; required except for a doctor (defaults to his clinic)"
        },
    )
    date = fields.Date(
        validate=DATES,
        metadata={"description": "Visit date; defaults to today in Asia/Shanghai"},
    )


# --- response shapes --------------------------------------------------------------


def _yuan(description: str = "") -> fields.String:
    return fields.String(metadata={**YUAN, "description": description or "yuan"})


class PatientTotalsSchema(Schema):
    registration = _yuan("registration fee (programme visits)")
    injection = _yuan("injection fee (programme visits with an injection)")
    copay = _yuan("in-scope amount the fund did not pay (non-programme visits)")
    self_pay = _yuan("service items, class C and un-backstopped class B parts")
    total = _yuan("what the patient pays")


class TotalsSchema(Schema):
    total = _yuan("lines + registration + injection = patient + fund + fiscal")
    in_scope = _yuan()
    self_pay = _yuan()
    fund = _yuan("medical insurance fund")
    fiscal = _yuan("district treasury backstop")
    patient = fields.Nested(PatientTotalsSchema)


class LineOutSchema(Schema):
    item = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["diagnosis", "drug", "service", "material"]})
    unit = fields.String()
    insurance_class = fields.String(metadata={"enum": ["A", "B", "C"]})
    quantity = fields.String(metadata={"example": "12"})
    unit_price = _yuan("catalogue price on the visit date")
    amount = _yuan()
    in_scope = _yuan()
    self_pay = _yuan()


class EligibilityOutSchema(Schema):
    programme = fields.Boolean()
    insured = fields.Boolean()
    reasons = fields.List(
        fields.String(),
        metadata={
            "description": (
                "Why the visit is not a programme visit (or not insured): no_policy, "
                "unknown_resident, other_district, not_village_hukou, "
                "clinic_not_in_programme, not_insured"
            )
        },
    )


class VoidOutSchema(Schema):
    reason = fields.String()
    at = fields.String(metadata={"format": "date-time"})


class VisitPatientSchema(Schema):
    id_number = fields.String(metadata={"description": "masked"})


class VisitSchema(Schema):
    id = fields.Integer()
    receipt_number = fields.String(metadata={"example": "HD001-2026-000001"})
    clinic = fields.String()
    visited_at = fields.String(metadata={"format": "date-time"})
    patient = fields.Nested(VisitPatientSchema)
    programme = fields.Boolean()
    eligibility = fields.Nested(EligibilityOutSchema)
    injection = fields.Boolean()
    lines = fields.List(fields.Nested(LineOutSchema))
    totals = fields.Nested(TotalsSchema)
    voided = fields.Boolean()
    void = fields.Nested(VoidOutSchema, allow_none=True)


class QuotePatientSchema(Schema):
    id_number = fields.String(metadata={"description": "masked"})
    name = fields.String(allow_none=True, metadata={"description": "masked"})
    hukou_village = fields.String(allow_none=True)
    insurance_type = fields.String(allow_none=True)


class FundYearQuoteSchema(Schema):
    paid_before = _yuan("fund paid for this person this year before the visit")
    cap_left_after = fields.String(allow_none=True, metadata=YUAN)


class QuoteSchema(Schema):
    clinic = fields.String()
    visited_at = fields.String(metadata={"format": "date-time"})
    patient = fields.Nested(QuotePatientSchema)
    programme = fields.Boolean()
    eligibility = fields.Nested(EligibilityOutSchema)
    injection = fields.Boolean()
    lines = fields.List(fields.Nested(LineOutSchema))
    totals = fields.Nested(TotalsSchema)
    fund_year = fields.Nested(FundYearQuoteSchema)


class VisitPageSchema(Schema):
    items = fields.List(fields.Nested(VisitSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "visits matching, over all pages"})


class HukouVillageSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["village", "community"]})
    town = fields.String()
    district = fields.String()


class InsuranceSchema(Schema):
    type = fields.String(metadata={"enum": ["resident", "employee", "none"]})
    insured_from = fields.String(allow_none=True, metadata={"format": "date"})
    insured_to = fields.String(allow_none=True, metadata={"format": "date"})
    active = fields.Boolean()


class FundYearSchema(Schema):
    year = fields.Integer()
    paid = _yuan()
    cap = fields.String(allow_none=True, metadata=YUAN)
    left = fields.String(allow_none=True, metadata=YUAN)


class PatientEligibilitySchema(Schema):
    id_number = fields.String(metadata={"description": "masked"})
    name = fields.String(allow_none=True, metadata={"description": "masked"})
    registered = fields.Boolean()
    sex = fields.String(allow_none=True)
    hukou_village = fields.Nested(HukouVillageSchema, allow_none=True)
    insurance = fields.Nested(InsuranceSchema, allow_none=True)
    clinic = fields.String()
    date = fields.String(metadata={"format": "date"})
    programme = fields.Boolean()
    reasons = fields.List(fields.String())
    fund_year = fields.Nested(FundYearSchema)


class ApiErrorSchema(Schema):
    """Every API error: the failing fields by dotted path, each with its reasons."""

    status = fields.Integer()
    error = fields.String()
    message = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"example": {"lines[0].quantity": ["must be greater than zero"]}},
    )
    codes = fields.Dict(keys=fields.String(), values=fields.String())
