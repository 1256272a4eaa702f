"""Stock API (issue 26 §4): a clinic's monthly stock statement, its files, and a count.

Thin: paths and bodies through :mod:`app.stock.schemas`, one query or operation
each, with the API user and the app's clock.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from app.auth.api_auth import api_user, authenticate_bearer
from app.clock import clock
from app.localtime import local_date
from app.stock.exports import stock_pdf, stock_xlsx
from app.stock.models import StockTake
from app.stock.operations import record_stock_take
from app.stock.queries import StockStatement, stock_view
from app.stock.schemas import (
    ClinicPathSchema,
    StockPathSchema,
    StockStatementSchema,
    StockTakeOutSchema,
    StockTakeSchema,
)
from app.web.api_docs import error_answers
from app.web.downloads import Document, send_document

blp = Blueprint("stock_api", __name__, url_prefix="/stock", description="Drug stock (进销存)")
blp.before_request(authenticate_bearer)

ERRORS = {
    401: "No or an invalid bearer token",
    403: "Outside the user's role or scope",
    404: "No such clinic",
    409: "The item was already counted that day",
    422: "Invalid input; `errors` names each failing field",
}


errors = error_answers(blp, ERRORS)


@blp.route("/<clinic>/<month>", methods=["GET"])
@blp.arguments(StockPathSchema, location="path")
@blp.response(200, StockStatementSchema)
@errors(401, 403, 404)
def get_stock(path: dict[str, str], **_: str) -> StockStatement:
    """The month per item: opening, purchased (3503), sold (3505), stock-take adjustments
    (3501/3502), closing; and the flags with the visits behind them."""
    return stock_view(path["clinic"], path["month"], api_user())


@blp.route("/<clinic>/<month>.pdf", methods=["GET"])
@blp.arguments(StockPathSchema, location="path")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
@errors(401, 403, 404)
def get_stock_pdf(path: dict[str, str], **_: str) -> Response:
    """The monthly stock statement as an A4 PDF."""
    view = stock_view(path["clinic"], path["month"], api_user())
    return send_document(
        Document(f"{view.clinic.code}-{view.month}-stock.pdf", "pdf", stock_pdf(view, clock()()))
    )


@blp.route("/<clinic>/<month>.xlsx", methods=["GET"])
@blp.arguments(StockPathSchema, location="path")
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
@errors(401, 403, 404)
def get_stock_xlsx(path: dict[str, str], **_: str) -> Response:
    """The monthly stock statement as a spreadsheet."""
    view = stock_view(path["clinic"], path["month"], api_user())
    return send_document(
        Document(f"{view.clinic.code}-{view.month}-stock.xlsx", "xlsx", stock_xlsx(view))
    )


@blp.route("/<clinic>/takes", methods=["POST"])
@blp.arguments(ClinicPathSchema, location="path")
@blp.arguments(StockTakeSchema)
@blp.response(201, StockTakeOutSchema)
@errors(401, 403, 404, 409, 422)
def post_take(path: dict[str, str], body: dict[str, Any], **_: str) -> StockTake:
    """The clinic's doctor records a count of one item at the end of a day."""
    now = clock()()
    return record_stock_take(
        path["clinic"],
        body["item"],
        body["taken_on"],
        body["counted"],
        api_user(),
        now,
        local_date(now),
        body["note"],
    )
