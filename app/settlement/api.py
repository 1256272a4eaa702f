"""Settlement API (SPEC §6): statements, their transitions, files, district summaries.

Thin: the path and the body are loaded by the schemas of
:mod:`app.settlement.schemas` (money already int fen, the month checked), each
view calls one query or operation with the API user and the app's clock, and
the answer is dumped by a response schema — the same schemas the OpenAPI
document is made from.  Every error answer is :class:`app.fields.ErrorSchema`.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from app.auth.api_auth import api_user, authenticate_bearer
from app.clock import clock
from app.oversight.models import ReviewItem
from app.oversight.queries import worklist
from app.settlement import documents
from app.settlement.operations import (
    BatchPayment,
    pay_reviewed_statements,
    pay_statement,
    pull_back_statement,
    record_finding,
    return_statement,
    review_statement,
    submit_statement,
)
from app.settlement.queries import (
    DistrictSummary,
    StatementView,
    VisitDetail,
    clinic_visit_detail,
    district_summary,
    district_visit_detail,
    statement_row,
    statement_view,
)
from app.settlement.rules import Payment
from app.settlement.schemas import (
    BatchPaymentSchema,
    DistrictSummarySchema,
    FindingPathSchema,
    FindingSchema,
    PaymentSchema,
    ReasonSchema,
    StatementPathSchema,
    StatementSchema,
    SummaryPathSchema,
    WorkItemSchema,
)
from app.web.api_docs import error_answers
from app.web.downloads import MEDIA_TYPES, Kind, send_document

blp = Blueprint("settlement_api", __name__, url_prefix="", description="Monthly settlement")

blp.before_request(authenticate_bearer)

ERRORS = {
    401: "No or an invalid bearer token",
    403: "Outside the user's role or scope",
    404: "No such clinic or district",
    409: "The statement is in another state, the month has not ended, or the figures changed",
    422: "Invalid input; `errors` names each failing field",
}


errors = error_answers(blp, ERRORS)


def file_answer(kind: Kind, description: str) -> Any:
    """Document a file answer (its bytes are not JSON, so no schema dumps them)."""
    return blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type=MEDIA_TYPES[kind],
        description=description,
    )


def _statement(path: dict[str, str], *, papers: bool = False) -> StatementView:
    # The JSON answer carries the checks' counts, not the papers' tables (top
    # diagnoses, doctors, warned visits): no visit is read.  A file prints them.
    return statement_view(path["clinic"], path["month"], api_user(), papers=papers)


def _summary(path: dict[str, str]) -> DistrictSummary:
    return district_summary(path["code"], path["month"], api_user())


@blp.route("/statements/<clinic>/<month>", methods=["GET"])
@blp.arguments(StatementPathSchema, location="path")
@blp.response(200, StatementSchema)
@errors(401, 403, 404)
def get_statement(path: dict[str, str], **_: str) -> StatementView:
    """A clinic's month: status, figures, days, items and history."""
    return _statement(path)


@blp.route("/statements/<clinic>/<month>/submit", methods=["POST"])
@blp.arguments(StatementPathSchema, location="path")
@blp.response(200, StatementSchema)
@errors(401, 403, 404, 409)
def submit(path: dict[str, str], **_: str) -> StatementView:
    """The clinic's doctor confirms a month that has ended; its figures are frozen."""
    submit_statement(path["clinic"], path["month"], api_user(), clock()())
    return _statement(path)


@blp.route("/statements/<clinic>/<month>/review", methods=["POST"])
@blp.arguments(StatementPathSchema, location="path")
@blp.arguments(ReasonSchema)
@blp.response(200, StatementSchema)
@errors(401, 403, 404, 409)
def review(path: dict[str, str], body: dict[str, Any], **_: str) -> StatementView:
    """A reviewer of the clinic's district (or town) approves a submitted statement."""
    review_statement(path["clinic"], path["month"], api_user(), clock()(), body["reason"])
    return _statement(path)


@blp.route("/statements/<clinic>/<month>/return", methods=["POST"])
@blp.arguments(StatementPathSchema, location="path")
@blp.arguments(ReasonSchema)
@blp.response(200, StatementSchema)
@errors(401, 403, 404, 409)
def return_(path: dict[str, str], body: dict[str, Any], **_: str) -> StatementView:
    """A reviewer returns a submitted or reviewed statement to the doctor (reason required)."""
    return_statement(path["clinic"], path["month"], body["reason"], api_user(), clock()())
    return _statement(path)


@blp.route("/statements/<clinic>/<month>/worklist", methods=["GET"])
@blp.arguments(StatementPathSchema, location="path")
@blp.response(200, WorkItemSchema(many=True))
@errors(401, 403, 404)
def get_worklist(path: dict[str, str], **_: str) -> list[ReviewItem]:
    """The statement's review worklist (empty when trusted or review is off)."""
    view = _statement(path)  # checks the user may see the clinic
    row = statement_row(view.clinic.id, view.month)
    return worklist(row.id) if row is not None else []


@blp.route("/statements/<clinic>/<month>/findings/<int:visit_id>", methods=["POST"])
@blp.arguments(FindingPathSchema, location="path")
@blp.arguments(FindingSchema)
@blp.response(200, StatementSchema)
@errors(401, 403, 404, 409, 422)
def finding(path: dict[str, Any], body: dict[str, Any], **_: Any) -> StatementView:
    """A reviewer's finding on a worklist visit; disallowed books a review adjustment."""
    record_finding(
        path["clinic"],
        path["month"],
        path["visit_id"],
        body["finding"],
        api_user(),
        clock()(),
        body["reason"],
        body["amount"] if body["finding"] == "disallowed" else None,
    )
    return _statement(path)


@blp.route("/statements/<clinic>/<month>/pull-back", methods=["POST"])
@blp.arguments(StatementPathSchema, location="path")
@blp.response(200, StatementSchema)
@errors(401, 403, 404, 409)
def pull_back(path: dict[str, str], **_: str) -> StatementView:
    """The doctor takes back a month the system submitted for him, while unreviewed."""
    pull_back_statement(path["clinic"], path["month"], api_user(), clock()())
    return _statement(path)


@blp.route("/statements/<clinic>/<month>/pay", methods=["POST"])
@blp.arguments(StatementPathSchema, location="path")
@blp.arguments(PaymentSchema)
@blp.response(200, StatementSchema)
@errors(401, 403, 404, 409)
def pay(path: dict[str, str], body: dict[str, Any], **_: str) -> StatementView:
    """Finance records the payment of exactly the backstop due."""
    payment = Payment(body["paid_on"], body["reference"], body["amount"])
    pay_statement(path["clinic"], path["month"], payment, api_user(), clock()())
    return _statement(path)


def _statement_file(path: dict[str, str], kind: Kind) -> Response:
    return send_document(
        documents.statement_file(_statement(path, papers=True), kind, clock()())
    )


@blp.route("/statements/<clinic>/<month>.pdf", methods=["GET"])
@blp.arguments(StatementPathSchema, location="path")
@file_answer("pdf", "The printable statement (A4, Simplified Chinese, embedded font)")
@errors(401, 403, 404)
def statement_pdf(path: dict[str, str], **_: str) -> Response:
    """The printable statement (A4, Simplified Chinese, embedded font)."""
    return _statement_file(path, "pdf")


@blp.route("/statements/<clinic>/<month>.csv", methods=["GET"])
@blp.arguments(StatementPathSchema, location="path")
@file_answer("csv", "The statement as CSV (UTF-8 with BOM)")
@errors(401, 403, 404)
def statement_csv(path: dict[str, str], **_: str) -> Response:
    """The statement as CSV (UTF-8 with BOM)."""
    return _statement_file(path, "csv")


VISITS_CSV = (
    "One line per unvoided visit (receipt, clinic, date, time, masked ID number, what it "
    "adds to each figure) and a totals line equal to the figures; CSV, UTF-8 with BOM, "
    "streamed"
)


def _visits_file(detail: VisitDetail) -> Response:
    return send_document(documents.visits_file(detail))


@blp.route("/statements/<clinic>/<month>/visits.csv", methods=["GET"])
@blp.arguments(StatementPathSchema, location="path")
@file_answer("csv", VISITS_CSV)
@errors(401, 403, 404)
def statement_visits_csv(path: dict[str, str], **_: str) -> Response:
    """The statement's visits, one line each."""
    return _visits_file(clinic_visit_detail(path["clinic"], path["month"], api_user()))


@blp.route("/statements/<clinic>/<month>.xlsx", methods=["GET"])
@blp.arguments(StatementPathSchema, location="path")
@file_answer("xlsx", "The statement as an Excel workbook")
@errors(401, 403, 404)
def statement_xlsx(path: dict[str, str], **_: str) -> Response:
    """The statement as an Excel workbook."""
    return _statement_file(path, "xlsx")


@blp.route("/districts/<code>/summaries/<month>", methods=["GET"])
@blp.arguments(SummaryPathSchema, location="path")
@blp.response(200, DistrictSummarySchema)
@errors(401, 403, 404)
def get_summary(path: dict[str, str], **_: str) -> DistrictSummary:
    """Every programme clinic of the district (or the user's town): status, figures, paid."""
    return _summary(path)


@blp.route("/districts/<code>/summaries/<month>/pay", methods=["POST"])
@blp.arguments(SummaryPathSchema, location="path")
@blp.arguments(BatchPaymentSchema)
@blp.response(200, DistrictSummarySchema)
@errors(401, 403, 404, 409)
def pay_all(path: dict[str, str], body: dict[str, Any], **_: str) -> DistrictSummary:
    """Pay every reviewed clinic at once: all or nothing, ``count`` and ``amount`` confirmed."""
    batch = BatchPayment(body["paid_on"], body["reference"], body["count"], body["amount"])
    pay_reviewed_statements(path["code"], path["month"], batch, api_user(), clock()())
    return _summary(path)


def _summary_file(path: dict[str, str], kind: Kind) -> Response:
    return send_document(documents.summary_file(_summary(path), kind, clock()()))


@blp.route("/districts/<code>/summaries/<month>.pdf", methods=["GET"])
@blp.arguments(SummaryPathSchema, location="path")
@file_answer("pdf", "The district summary the finance bureau pays from (A4 landscape)")
@errors(401, 403, 404)
def summary_pdf(path: dict[str, str], **_: str) -> Response:
    """The district summary the finance bureau pays from (A4 landscape)."""
    return _summary_file(path, "pdf")


@blp.route("/districts/<code>/summaries/<month>.csv", methods=["GET"])
@blp.arguments(SummaryPathSchema, location="path")
@file_answer("csv", "The district summary as CSV (UTF-8 with BOM)")
@errors(401, 403, 404)
def summary_csv(path: dict[str, str], **_: str) -> Response:
    """The district summary as CSV (UTF-8 with BOM)."""
    return _summary_file(path, "csv")


@blp.route("/districts/<code>/summaries/<month>.xlsx", methods=["GET"])
@blp.arguments(SummaryPathSchema, location="path")
@file_answer("xlsx", "The district summary as an Excel workbook")
@errors(401, 403, 404)
def summary_xlsx(path: dict[str, str], **_: str) -> Response:
    """The district summary as an Excel workbook."""
    return _summary_file(path, "xlsx")


@blp.route("/districts/<code>/summaries/<month>/visits.csv", methods=["GET"])
@blp.arguments(SummaryPathSchema, location="path")
@file_answer("csv", VISITS_CSV)
@errors(401, 403, 404)
def summary_visits_csv(path: dict[str, str], **_: str) -> Response:
    """The summary's visits (the district's, or the user's town's), one line each."""
    return _visits_file(district_visit_detail(path["code"], path["month"], api_user()))
