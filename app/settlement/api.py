"""Settlement API (SPEC §6): statements, their transitions, files, district summaries.

Thin: each view checks the body's shape (schemas), parses money at the edge
and calls one query or operation with the API user and the app's clock.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from app.auth.api_auth import api_user, authenticate_bearer
from app.clock import clock
from app.errors import InvalidInput, Problem
from app.money import MoneyFormatError, parse_yuan
from app.settlement import documents, exports
from app.settlement.operations import (
    BatchPayment,
    pay_reviewed_statements,
    pay_statement,
    return_statement,
    review_statement,
    submit_statement,
)
from app.settlement.queries import district_summary, statement_view
from app.settlement.rules import Payment
from app.settlement.schemas import BatchPaymentSchema, PaymentSchema, ReasonSchema

blp = Blueprint("settlement_api", __name__, url_prefix="", description="Monthly settlement")

blp.before_request(authenticate_bearer)

MIMETYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def file_response(body: bytes, ext: str, filename: str) -> Response:
    response = Response(body, mimetype=MIMETYPES[ext])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def parse_amount(text: str, field: str = "amount") -> int:
    try:
        return parse_yuan(text)
    except MoneyFormatError as exc:
        raise InvalidInput(Problem(field, str(exc), "bad_amount")) from None


def _statement_json(clinic: str, month: str) -> dict[str, Any]:
    return statement_view(clinic, month, api_user()).as_json()


@blp.route("/statements/<clinic>/<month>", methods=["GET"])
@blp.response(200)
def get_statement(clinic: str, month: str) -> dict[str, Any]:
    """A clinic's month: status, figures, days, items and history."""
    return _statement_json(clinic, month)


@blp.route("/statements/<clinic>/<month>/submit", methods=["POST"])
@blp.response(200)
def submit(clinic: str, month: str) -> dict[str, Any]:
    """The clinic's doctor confirms a month that has ended; its figures are frozen."""
    submit_statement(clinic, month, api_user(), clock()())
    return _statement_json(clinic, month)


@blp.route("/statements/<clinic>/<month>/review", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200)
def review(body: dict[str, Any], clinic: str, month: str) -> dict[str, Any]:
    """A reviewer of the clinic's district (or town) approves a submitted statement."""
    review_statement(clinic, month, api_user(), clock()(), body["reason"])
    return _statement_json(clinic, month)


@blp.route("/statements/<clinic>/<month>/return", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200)
def return_(body: dict[str, Any], clinic: str, month: str) -> dict[str, Any]:
    """A reviewer returns a submitted or reviewed statement to the doctor (reason required)."""
    return_statement(clinic, month, body["reason"], api_user(), clock()())
    return _statement_json(clinic, month)


@blp.route("/statements/<clinic>/<month>/pay", methods=["POST"])
@blp.arguments(PaymentSchema)
@blp.response(200)
def pay(body: dict[str, Any], clinic: str, month: str) -> dict[str, Any]:
    """Finance records the payment of exactly the backstop due."""
    payment = Payment(body["paid_on"], body["reference"], parse_amount(body["amount"]))
    pay_statement(clinic, month, payment, api_user(), clock()())
    return _statement_json(clinic, month)


def _statement_file(clinic: str, month: str, ext: str) -> Response:
    view = statement_view(clinic, month, api_user())
    if ext == "pdf":
        body = documents.statement_pdf(view, clock()())
    elif ext == "csv":
        body = exports.statement_csv(view)
    else:
        body = exports.statement_xlsx(view)
    return file_response(body, ext, documents.statement_filename(view, ext))


@blp.route("/statements/<clinic>/<month>.pdf", methods=["GET"])
def statement_pdf(clinic: str, month: str) -> Response:
    """The printable statement (A4, Simplified Chinese, embedded font)."""
    return _statement_file(clinic, month, "pdf")


@blp.route("/statements/<clinic>/<month>.csv", methods=["GET"])
def statement_csv(clinic: str, month: str) -> Response:
    """The statement as CSV (UTF-8 with BOM)."""
    return _statement_file(clinic, month, "csv")


@blp.route("/statements/<clinic>/<month>.xlsx", methods=["GET"])
def statement_xlsx(clinic: str, month: str) -> Response:
    """The statement as an Excel workbook."""
    return _statement_file(clinic, month, "xlsx")


@blp.route("/districts/<code>/summaries/<month>", methods=["GET"])
@blp.response(200)
def get_summary(code: str, month: str) -> dict[str, Any]:
    """Every programme clinic of the district (or the user's town): status, figures, paid."""
    return district_summary(code, month, api_user()).as_json()


@blp.route("/districts/<code>/summaries/<month>/pay", methods=["POST"])
@blp.arguments(BatchPaymentSchema)
@blp.response(200)
def pay_all(body: dict[str, Any], code: str, month: str) -> dict[str, Any]:
    """Pay every reviewed clinic at once: all or nothing, ``count`` and ``amount`` confirmed."""
    batch = BatchPayment(
        body["paid_on"], body["reference"], body["count"], parse_amount(body["amount"])
    )
    pay_reviewed_statements(code, month, batch, api_user(), clock()())
    return district_summary(code, month, api_user()).as_json()


def _summary_file(code: str, month: str, ext: str) -> Response:
    summary = district_summary(code, month, api_user())
    if ext == "pdf":
        body = documents.summary_pdf(summary, clock()())
    elif ext == "csv":
        body = exports.summary_csv(summary)
    else:
        body = exports.summary_xlsx(summary)
    return file_response(body, ext, documents.summary_filename(summary, ext))


@blp.route("/districts/<code>/summaries/<month>.pdf", methods=["GET"])
def summary_pdf(code: str, month: str) -> Response:
    """The district summary the finance bureau pays from (A4 landscape)."""
    return _summary_file(code, month, "pdf")


@blp.route("/districts/<code>/summaries/<month>.csv", methods=["GET"])
def summary_csv(code: str, month: str) -> Response:
    """The district summary as CSV (UTF-8 with BOM)."""
    return _summary_file(code, month, "csv")


@blp.route("/districts/<code>/summaries/<month>.xlsx", methods=["GET"])
def summary_xlsx(code: str, month: str) -> Response:
    """The district summary as an Excel workbook."""
    return _summary_file(code, month, "xlsx")
