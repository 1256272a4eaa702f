"""Catalogue API: search the items a visit can use, with their price on a day.

Thin: a schema checks the query's shape, :func:`app.catalog.queries.search_items`
does the search; prices leave as two-decimal yuan strings.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from app.auth.api_auth import authenticate_bearer
from app.catalog.queries import MAX_QUERY, MAX_RESULTS, search_items
from app.clock import clock
from app.localtime import local_date
from app.money import format_yuan

blp = Blueprint("catalog_api", __name__, url_prefix="/catalog", description="Catalogue")

blp.before_request(authenticate_bearer)

YUAN = {"type": "string", "pattern": r"^\d+\.\d{2}$", "example": "0.35"}


class ItemSearchArgsSchema(Schema):
    class Meta:
        unknown = RAISE

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
        required=True, validate=validate.OneOf(["diagnosis", "drug", "service", "material"])
    )
    unit = fields.String(required=True)
    insurance_class = fields.String(required=True, validate=validate.OneOf(["A", "B", "C"]))
    pinyin = fields.String(required=True, metadata={"description": "Pinyin initials"})
    price = fields.String(required=True, metadata={"description": "Unit price, yuan", **YUAN})


class ItemSearchSchema(Schema):
    date = fields.Date(required=True, metadata={"description": "The date the prices hold on"})
    items = fields.List(fields.Nested(ItemOfferSchema), required=True)


@blp.route("/items")
class CatalogItems(MethodView):
    @blp.arguments(ItemSearchArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ItemSearchSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search the catalogue

        Only items with an approved price on `date` are listed, best match
        first: the exact code, code prefixes, pinyin prefixes, then names.
        """
        day = args["date"] or local_date(clock()())
        offers = search_items(args["q"], day, args["limit"])
        return {
            "date": day,
            "items": [
                {
                    "code": o.code,
                    "name": o.name,
                    "kind": o.kind,
                    "unit": o.unit,
                    "insurance_class": o.insurance_class,
                    "pinyin": o.pinyin,
                    "price": format_yuan(o.price),
                }
                for o in offers
            ],
        }
