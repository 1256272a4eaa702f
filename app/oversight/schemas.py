"""Shapes of the public own-visits API (issue 26 §2): what the two secrets entitle to."""

from __future__ import annotations

from marshmallow import fields, validate

from app.checks.rules import ID_TAIL
from app.fields import Quantity, StrictSchema, Text, Yuan


class ReceiptPathSchema(StrictSchema):
    code = fields.String(required=True, metadata={"description": "The receipt's code"})


class NotMePathSchema(ReceiptPathSchema):
    visit_id = fields.Integer(required=True, validate=validate.Range(min=1))


class IdTailSchema(StrictSchema):
    """The second secret, sent in the body (never in a URL that logs keep)."""

    id_tail = Text(
        required=True,
        validate=validate.Length(equal=ID_TAIL),
        metadata={
            "description": "The last six characters of the patient's ID number",
            "example": "12345X",
        },
    )


class OwnItemSchema(StrictSchema):
    name = fields.String()
    quantity = Quantity()
    unit = fields.String()


class OwnVisitSchema(StrictSchema):
    visit_id = fields.Integer()
    visit_date = fields.Date()
    clinic_name = fields.String()
    items = fields.List(fields.Nested(OwnItemSchema))
    patient = Yuan(metadata={"description": "What the patient paid"})
    fund = Yuan(metadata={"description": "What the medical-insurance fund paid"})
    fiscal = Yuan(metadata={"description": "What the district paid (the backstop)"})
    disowned = fields.Boolean(metadata={"description": "The patient said 我没有在这天看病"})


class OwnVisitsSchema(StrictSchema):
    since = fields.Date(metadata={"description": "First day of the twelve months shown"})
    visits = fields.List(fields.Nested(OwnVisitSchema))


class NotMeSchema(StrictSchema):
    visit_id = fields.Integer()
    recorded = fields.Boolean(
        metadata={"description": "False when the visit had already been disowned"}
    )
