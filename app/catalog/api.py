"""Catalogue API: search the items a visit can use, with their price on a day.

Thin: :mod:`app.catalog.schemas` checks the query's shape and shapes the
answer, :func:`app.catalog.queries.search_items` does the search.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth.api_auth import authenticate_bearer
from app.catalog.queries import search_items
from app.catalog.schemas import ItemSearchArgsSchema, ItemSearchSchema
from app.clock import clock
from app.fields import ErrorSchema
from app.localtime import local_date

blp = Blueprint("catalog_api", __name__, url_prefix="/catalog", description="Catalogue")

blp.before_request(authenticate_bearer)


@blp.route("/items")
class CatalogItems(MethodView):
    @blp.arguments(ItemSearchArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ItemSearchSchema)
    @blp.alt_response(401, schema=ErrorSchema, description="No or an invalid bearer token")
    @blp.alt_response(
        422, schema=ErrorSchema, description="Invalid input; `errors` names each failing field"
    )
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search the catalogue

        Only items with an approved price on `date` are listed, best match
        first: the exact code, code prefixes, pinyin prefixes, then names.
        """
        day = args["date"] or local_date(clock()())
        return {"date": day, "items": search_items(args["q"], day, args["limit"])}
