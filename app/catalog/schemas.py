"""Marshmallow schemas of the catalogue API: the query's shape and the answer's.

The answer dumps :class:`app.catalog.queries.ItemOffer` objects as they are,
prices through :class:`app.fields.Yuan` (fen inside, ``"0.35"`` outside).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.catalog.queries import MAX_QUERY, MAX_RESULTS
from app.fields import StrictSchema, Yuan


class ItemSearchArgsSchema(StrictSchema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=MAX_QUERY),
        metadata={
            "description": (
                "Code prefix (any case), part of the Chinese name, or a prefix of the "
                "pinyin initials (`amxl` finds 阿莫西林胶囊). Empty gives no items."
            ),
            "example": "amxl",
        },
    )
    date = fields.Date(
        load_default=None,
        metadata={"description": "Price date (default: today in Asia/Shanghai)"},
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_RESULTS))


class ItemOfferSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(
        required=True, metadata={"enum": ["consultation", "drug", "service", "material"]}
    )
    unit = fields.String(required=True)
    insurance_class = fields.String(required=True, metadata={"enum": ["A", "B", "C"]})
    pinyin = fields.String(required=True, metadata={"description": "Pinyin initials"})
    price = Yuan(required=True, metadata={"description": "Unit price, yuan", "example": "0.35"})


class ItemSearchSchema(Schema):
    date = fields.Date(required=True, metadata={"description": "The date the prices hold on"})
    items = fields.List(fields.Nested(ItemOfferSchema), required=True)
