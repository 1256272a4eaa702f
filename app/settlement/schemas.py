"""Shapes of the settlement API's request bodies (load: shape only).

Meaning — is a reason required, is the amount the amount due, is the date
in the future — is checked by :mod:`app.settlement.rules`, which names the
failing field.  Money arrives as a yuan string, never a JSON number.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class ReasonSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(load_default="", validate=validate.Length(max=300))


class PaymentSchema(Schema):
    class Meta:
        unknown = RAISE

    paid_on = fields.Date(required=True, metadata={"description": "YYYY-MM-DD"})
    reference = fields.String(required=True, validate=validate.Length(max=60))
    amount = fields.String(
        required=True, metadata={"description": "yuan with two decimals; the backstop due"}
    )


class BatchPaymentSchema(PaymentSchema):
    count = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "the number of reviewed clinics being paid"},
    )
    amount = fields.String(
        required=True, metadata={"description": "yuan; the sum of the backstop due of them all"}
    )
