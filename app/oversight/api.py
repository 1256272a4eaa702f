"""The public own-visits API (issue 26 §2): the receipt check's "my visits" for an app.

No login: the receipt's code and the last six characters of the patient's ID
number, both in every call (the secret in the body).  The same look-ups and
writes as the page (:func:`check_id_tail`, :func:`read_own_visits`,
:func:`disown_visit`), so the same access-log entries; the same throttles,
sharing their counters with the page's (a scope per throttle), so the API is
no second door for guessing the six characters.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from app.checks.codes import normalise
from app.clock import clock
from app.errors import InvalidInput, NotFound, Problem, ProblemCode
from app.extensions import limiter
from app.oversight.operations import check_id_tail, disown_visit, read_own_visits
from app.oversight.schemas import (
    IdTailSchema,
    NotMePathSchema,
    NotMeSchema,
    OwnVisitsSchema,
    ReceiptPathSchema,
)
from app.web.api_docs import error_answers

blp = Blueprint(
    "verify_api",
    __name__,
    url_prefix="/receipts",
    description="Public receipt check: a resident's own visits (no login)",
)

ERRORS = {
    404: "No receipt has this code, or the visit is not its patient's",
    422: "Invalid input, or `id_tail` is not the ID number's last six characters",
    429: "Too many tries from this address or on this receipt",
}
# Throttle scopes shared with the receipt-check page (app.oversight.pages).
ADDRESS_SCOPE = "own_visits_address"
RECEIPT_SCOPE = "own_visits_receipt"


def _own_limit() -> str:
    return str(current_app.config["OWN_VISITS_LIMIT"])


def _own_receipt_limit() -> str:
    return str(current_app.config["OWN_VISITS_RECEIPT_LIMIT"])


def _answer_limit() -> str:
    return str(current_app.config["FEEDBACK_LIMIT"])


def receipt_key() -> str:
    """The throttle's key for the receipt being tried, however its code was typed."""
    typed = str((request.view_args or {}).get("code", ""))
    return f"own-visits:{normalise(typed) or typed}"


def _wrong_tail(response: Any) -> bool:
    return bool(response.status_code == 422)


errors = error_answers(blp, ERRORS)


def _checked(code: str, id_tail: str) -> str:
    """The receipt's stored code once both secrets match; else 404 or 422 (id_tail)."""
    stored = normalise(code)
    matched = check_id_tail(stored, id_tail, clock()()) if stored else None
    if matched is None or stored is None:
        raise NotFound(Problem("code", "no receipt with this code", ProblemCode.NOT_FOUND))
    if not matched:
        raise InvalidInput(
            Problem(
                "id_tail",
                "is not the last six characters of the ID number",
                ProblemCode.ID_TAIL_MISMATCH,
            )
        )
    return stored


@blp.route("/<code>/own-visits", methods=["POST"])
@limiter.shared_limit(_own_limit, ADDRESS_SCOPE)
@limiter.shared_limit(_own_receipt_limit, RECEIPT_SCOPE, key_func=receipt_key)
@blp.doc(security=[])
@blp.arguments(ReceiptPathSchema, location="path")
@blp.arguments(IdTailSchema)
@blp.response(200, OwnVisitsSchema)
@errors(404, 422, 429)
def post_own_visits(path: dict[str, str], body: dict[str, str], **_: Any) -> Any:
    """The receipt's patient's unvoided visits of the last twelve months, at any clinic:
    date, clinic, items, what he paid, what the fund and the district paid.  Every look-up
    and every wrong six characters is recorded in the resident's access log."""
    stored = _checked(path["code"], body["id_tail"])
    mine = read_own_visits(stored, clock()())
    if mine is None:
        raise NotFound(Problem("code", "no receipt with this code", ProblemCode.NOT_FOUND))
    return {
        "since": mine.since,
        "visits": [
            {
                "visit_id": v.visit_id,
                "visit_date": v.visit_date,
                "clinic_name": v.clinic_name,
                "items": [{"name": n, "quantity": q, "unit": u} for n, q, u in v.items],
                "patient": v.patient,
                "fund": v.fund,
                "fiscal": v.fiscal,
                "disowned": v.disowned,
            }
            for v in mine.visits
        ],
    }


@blp.route("/<code>/own-visits/<int:visit_id>/not-me", methods=["POST"])
@limiter.limit(_answer_limit)
# Wrong six characters count against the same throttles as a look-up.
@limiter.shared_limit(_own_limit, ADDRESS_SCOPE, deduct_when=_wrong_tail)
@limiter.shared_limit(
    _own_receipt_limit, RECEIPT_SCOPE, key_func=receipt_key, deduct_when=_wrong_tail
)
@blp.doc(security=[])
@blp.arguments(NotMePathSchema, location="path")
@blp.arguments(IdTailSchema)
@blp.response(200, NotMeSchema)
@errors(404, 422, 429)
def post_not_me(path: dict[str, Any], body: dict[str, str], **_: Any) -> Any:
    """我没有在这天看病: the patient says this visit of his never happened.  It goes on the
    clinic's review worklist and counts in its flags; a second answer changes nothing."""
    stored = _checked(path["code"], body["id_tail"])
    try:
        recorded = disown_visit(stored, int(path["visit_id"]), clock()())
    except NotFound:
        raise NotFound(
            Problem("visit_id", "no such visit of this receipt's patient", ProblemCode.NOT_FOUND)
        ) from None
    return {"visit_id": path["visit_id"], "recorded": recorded}
