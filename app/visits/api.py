"""Visit API (SPEC §6): quote, record, void, list and read visits; patient eligibility.

Thin by design: a schema checks the shape of the request, one operation or
query does the work (and checks the meaning, raising domain errors that name
the field), a schema shapes the answer.  The actor is the bearer-token user,
the clock the app's; nothing here commits.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from flask_smorest.pagination import PaginationMetadataSchema, PaginationParameters

from app.audit.operations import record_access
from app.auth.access import require_clinic_visible
from app.auth.api_auth import api_user, authenticate_bearer
from app.auth.models import User
from app.clock import clock
from app.errors import InvalidInput, PreconditionRequired, Problem, ProblemCode
from app.insurance.pages import configured_gateway, reverse_after_void, settle_after_recording
from app.insurance.queries import settlement_for_visit
from app.insurance.schemas import settlement_answer
from app.localtime import local_date
from app.places.models import Clinic
from app.places.queries import clinic_by_code
from app.visits.hooks import hooks
from app.visits.models import Visit
from app.visits.operations import Quote, VisitRequest, quote_visit, record_visit, void_visit
from app.visits.queries import PatientEligibility, patient_eligibility, visit_for, visits_between
from app.visits.schemas import (
    DEFAULT_PER_PAGE,
    MAX_PAGE,
    MAX_PER_PAGE,
    EligibilityArgsSchema,
    IdempotencyHeaderSchema,
    PatientEligibilitySchema,
    QuoteSchema,
    VisitInSchema,
    VisitListArgsSchema,
    VisitSchema,
    VoidInSchema,
    visit_answer,
)
from app.web.api_docs import error_answers
from app.web.routing import id_rule


class _PagedBlueprint(Blueprint):
    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        # The header's value is JSON text; smorest documents it as a plain
        # (style "simple") object, which no client or checker reads as sent.
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata: total, total_pages, page, next_page …",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }


blp = _PagedBlueprint("visits_api", __name__, url_prefix="/visits", description="Visits")
residents_blp = Blueprint(
    "residents_api", __name__, url_prefix="/residents", description="Residents"
)

blp.before_request(authenticate_bearer)
residents_blp.before_request(authenticate_bearer)

VISIT_ID = id_rule("visit_id")


@blp.before_request
@residents_blp.before_request
def _require_json_body() -> None:
    """A POST body must be JSON; anything else is refused naming the header."""
    if request.method == "POST" and not request.is_json:
        abort(
            415,
            message="the request body must be JSON",
            messages={"headers": {"Content-Type": ["must be application/json"]}},
        )


ERROR_DESCRIPTIONS = {
    401: "No or an invalid bearer token",
    403: "Outside the user's role or scope",
    404: "No such visit",
    409: "Conflicts with the current state (frozen month, reused key, voided)",
    415: "The body is not JSON",
    422: "Invalid input; `errors` names each failing field",
    428: "The `Idempotency-Key` header is missing",
}


_errors = error_answers(blp, ERROR_DESCRIPTIONS)
_resident_errors = error_answers(residents_blp, ERROR_DESCRIPTIONS)


def _with_settlement(visit: Visit) -> None:
    """With a platform configured, the answer carries the visit's settlement."""
    if configured_gateway() is not None:
        visit.insurance = settlement_answer(settlement_for_visit(visit.id))  # type: ignore[attr-defined]


def _clinic_in_scope(code: str | None, actor: User) -> Clinic:
    """The clinic a read is about: named, or the doctor's own by default."""
    if code is None:
        if actor.role == "doctor" and actor.clinic is not None:
            return actor.clinic
        raise InvalidInput(Problem("clinic", "is required", ProblemCode.REQUIRED))
    return clinic_by_code(code)


@blp.route("/quote")
class VisitQuote(MethodView):
    @blp.arguments(VisitInSchema)
    @blp.response(200, QuoteSchema)
    @_errors(401, 403, 415, 422)
    def post(self, visit_request: VisitRequest) -> Quote:
        """Price a visit without saving it

        The same pricing path as recording, so the saved visit matches the
        quote to the fen (given the same time and year-to-date fund use).
        """
        return quote_visit(visit_request, api_user(), clock()(), screen=hooks().screen)


@blp.route("")
class Visits(MethodView):
    @blp.arguments(VisitListArgsSchema, location="query", unknown="raise")
    @blp.response(200, VisitSchema(many=True))
    @blp.paginate(page_size=DEFAULT_PER_PAGE, max_page_size=MAX_PER_PAGE)
    @_errors(401, 403, 422)
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> list[Visit]:
        """List a clinic's visits, newest first

        `clinic` is required except for a doctor, whose own clinic is the
        default. Voided visits are included (flagged `voided`). The list is
        paged by `page` and `page_size`; the `X-Pagination` header gives the
        total and the pages.
        """
        if pagination_parameters.page > MAX_PAGE:
            raise InvalidInput(
                Problem("page", f"must be at most {MAX_PAGE}", ProblemCode.BAD_SHAPE)
            )
        actor = api_user()
        clinic = _clinic_in_scope(args.get("clinic"), actor)
        require_clinic_visible(actor, clinic)
        visits, total = visits_between(
            clinic,
            args.get("date_from"),
            args.get("date_to"),
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return visits

    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(VisitInSchema)
    @blp.response(201, VisitSchema, description="The visit was recorded")
    @blp.alt_response(
        200,
        schema=VisitSchema,
        description=(
            "A replay: the `Idempotency-Key` was already used with this same body, "
            "so the visit recorded the first time is returned and nothing is written"
        ),
    )
    @_errors(401, 403, 409, 415, 422, 428)
    def post(self, headers: dict[str, Any], visit_request: VisitRequest) -> Any:
        """Record a visit

        Recorded by a doctor at his own clinic. `visited_at` defaults to now;
        an earlier time is accepted in a month still open for the clinic, a
        future time is refused. Send an `Idempotency-Key` so a retried
        submission returns the first visit (200) instead of recording a
        second one; the first submission answers 201.
        """
        key = headers.get("idempotency_key")
        if key is None:
            # Without a key a blind retry after a lost answer records the visit twice.
            raise PreconditionRequired(
                Problem(
                    "Idempotency-Key",
                    "is required: send a new key per visit, and the same key on a retry",
                    ProblemCode.REQUIRED,
                )
            )
        actor = api_user()
        visit, created = record_visit(visit_request, actor, clock()(), key, screen=hooks().screen)
        # VisitSchema's answer, built directly (visit_answer); the schema documents it.
        answer = visit_answer(visit)
        if configured_gateway() is not None:
            # After the visit's commit, outside any transaction (SPEC §7 real time).
            settle_after_recording(visit, actor)
            answer["insurance"] = settlement_answer(settlement_for_visit(visit.id))
        return jsonify(answer), 201 if created else 200


@blp.route(f"/{VISIT_ID}")
class VisitById(MethodView):
    @blp.response(200, VisitSchema)
    @_errors(401, 403, 404)
    def get(self, visit_id: int) -> Visit:
        """Read one visit"""
        actor = api_user()
        visit = visit_for(visit_id, actor)
        record_access(actor, visit.resident_id, "visit", visit.clinic.code, clock()())
        _with_settlement(visit)
        return visit


@blp.route(f"/{VISIT_ID}/void")
class VisitVoid(MethodView):
    @blp.arguments(VoidInSchema)
    @blp.response(200, VisitSchema)
    @_errors(401, 403, 404, 409, 415, 422)
    def post(self, body: dict[str, Any], visit_id: int) -> Visit:
        """Void a visit of an open month

        Its fund share and deductible go back to the person's year. A voided
        visit stays on record (flagged, with reason, actor and time); voiding
        it again is a 409.
        """
        visit = void_visit(visit_id, body["reason"], api_user(), clock()())
        if reverse_after_void(visit.id) is not None:
            _with_settlement(visit)
        return visit


@residents_blp.route("/eligibility")
class ResidentEligibility(MethodView):
    @residents_blp.arguments(EligibilityArgsSchema)
    @residents_blp.response(200, PatientEligibilitySchema)
    @_resident_errors(401, 403, 415, 422)
    def post(self, args: dict[str, Any]) -> PatientEligibility:
        """Who the patient is and whether a visit would be a programme visit

        The ID number travels in the body, never in a URL (URLs end up in
        logs). A valid ID number that is not in the register is not an error:
        the answer says `registered: false` with reason `unknown_resident`.
        Every lookup of a registered resident is logged (who, when, which
        resident by internal id, for what): `flask audit access`.
        `date` defaults to today (Asia/Shanghai); `clinic` is required
        except for a doctor, whose own clinic is the default.
        """
        actor = api_user()
        clinic = _clinic_in_scope(args.get("clinic"), actor)
        now = clock()()
        day = args.get("date") or local_date(now)
        found = patient_eligibility(args["id_number"], clinic, day, actor)
        resident_id = found.resident.id if found.resident else None
        record_access(actor, resident_id, "eligibility", clinic.code, now)
        return found
