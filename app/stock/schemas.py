"""The stock API's shapes: a month's statement (the platform's 3501–3505 figures) and a count."""

from __future__ import annotations

from marshmallow import fields, validate

from app.fields import StrictSchema, Text, Yuan
from app.stock.rules import StockFlagKind, signed_quantity

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
MONTH_ERROR = "must be a month YYYY-MM between 2000-01 and 2099-12"


class StockPathSchema(StrictSchema):
    clinic = fields.String(required=True, metadata={"description": "clinic code"})
    month = fields.String(
        required=True,
        validate=[
            validate.Length(equal=7, error=MONTH_ERROR),
            validate.Regexp(MONTH_PATTERN, error=MONTH_ERROR),
        ],
        metadata={"example": "2026-10"},
    )


class ClinicPathSchema(StrictSchema):
    clinic = fields.String(required=True, metadata={"description": "clinic code"})


class StockTakeSchema(StrictSchema):
    """A count of one item at the end of a day (盘存, the platform's 3501)."""

    item = Text(required=True, validate=validate.Length(min=1, max=30))
    taken_on = fields.Date(required=True, metadata={"example": "2026-10-31"})
    counted = Text(
        required=True,
        validate=validate.Length(min=1, max=12),
        metadata={
            "description": "quantity on the shelf, in the catalogue's unit",
            "example": "120",
        },
    )
    note = Text(load_default="", validate=validate.Length(max=200))


def _quantity(name: str) -> fields.Function:
    return fields.Function(
        lambda row: signed_quantity(getattr(row, name)),
        metadata={"description": "quantity in the catalogue's unit; the book may be below 0"},
    )


class StockRowSchema(StrictSchema):
    med_list_codg = fields.String(attribute="national_code", allow_none=True)
    fixmedins_hilist_id = fields.String(attribute="item_code")
    fixmedins_hilist_name = fields.String(attribute="name")
    unit = fields.String()
    opening = _quantity("opening")
    purchased = _quantity("delivered")  # 3503
    purchase_amount = Yuan(attribute="delivered_amount")
    sold = _quantity("dispensed")  # 3505
    stocktake_adjustment = _quantity("adjusted")  # 3501/3502
    closing = _quantity("closing")


class StockFlagSchema(StrictSchema):
    kind = fields.String(metadata={"enum": [k.value for k in StockFlagKind]})
    item = fields.String(attribute="item_code")
    name = fields.String(attribute="item_name")
    trace_code = fields.Function(
        lambda f: f.detail if f.kind is StockFlagKind.TRACE_TWICE else None, allow_none=True
    )
    visits = fields.List(fields.Integer(), attribute="visit_ids")


class StockStatementSchema(StrictSchema):
    clinic = fields.Function(lambda s: s.clinic.code)
    month = fields.String()
    rows = fields.List(fields.Nested(StockRowSchema))
    flags = fields.List(fields.Nested(StockFlagSchema))


class StockTakeOutSchema(StrictSchema):
    item = fields.String(attribute="item_code")
    taken_on = fields.Date()
    counted = fields.Function(lambda t: signed_quantity(t.counted))
    book = fields.Function(lambda t: signed_quantity(t.book))
    adjustment = fields.Function(lambda t: signed_quantity(t.adjustment))
