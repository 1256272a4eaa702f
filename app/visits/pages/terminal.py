"""The new-visit page: the form, and the JSON its script asks for.

``visits.new_visit`` registers a visit: ID number, catalogue lines, injection,
the split, save.  The form carries an idempotency token made when the page is
rendered, handed to :func:`record_visit`, so a double click, a reload or a
resubmission after a network error records one visit; a save answers with a
redirect to the receipt (POST/redirect/GET).  Without JavaScript every button
posts the form and the page is rendered again.

Page-level JSON (session cookie + CSRF header; the ``/api/v1`` API takes bearer
tokens only): ``visits.patient`` (patient panel), ``visits.items`` (catalogue
search) and ``visits.quote`` (the live split: the request loaded by the API's
:class:`VisitInSchema`, priced by :func:`quote_visit`, dumped by the API's
:class:`QuoteSchema` — the very numbers the API quote gives).  Problems are in
the doctor's words from :mod:`app.visits.messages`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from flask import flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.audit.operations import record_access
from app.auth.models import User
from app.catalog.queries import (
    DiagnosisOffer,
    ItemOffer,
    consultation_offer,
    diagnosis_names,
    offers_for,
    search_diagnoses,
    search_items,
)
from app.catalog.rules import MAX_DIAGNOSES
from app.checks.rules import Severity
from app.checks.words import RULE_NAMES, SEVERITY_NAMES, check_message
from app.errors import DomainError, Problem, ProblemCode
from app.insurance.pages import settle_after_recording
from app.localtime import SHANGHAI, parse_typed_minute
from app.money import format_yuan
from app.places.models import Clinic
from app.visits.forms import NewVisitForm
from app.visits.hooks import hooks
from app.visits.labels import INSURANCE_CLASS
from app.visits.messages import field_errors
from app.visits.operations import (
    MAX_LINES,
    LineRequest,
    Quote,
    VisitRequest,
    quote_visit,
    record_visit,
)
from app.visits.pages import bp, doctors_clinic, no_store, now, today
from app.visits.queries import PatientEligibility, patient_eligibility
from app.visits.schemas import (
    PatientEligibilitySchema,
    QuoteSchema,
    TerminalDiagnosisSchema,
    TerminalItemSchema,
    VisitInSchema,
)
from app.web.access import role_required
from app.web.errors import field_errors as web_field_errors

# --- the new-visit form ---------------------------------------------------------------


@dataclass
class FormLine:
    item: str
    quantity: str
    offer: ItemOffer | None = None
    unit_price: str = ""  # from the quote or the catalogue, formatted
    amount: str = ""  # from the quote only


@dataclass
class VisitForm:
    """What the doctor has typed, as posted; re-rendered as is on any error."""

    token: str
    id_number: str = ""
    injection: bool = False
    visited_at: str = ""  # datetime-local, Asia/Shanghai; empty = now
    warning_reason: str = ""  # the doctor's reason when a check at recording warns
    q: str = ""
    lines: list[FormLine] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    diagnoses: list[str] = field(default_factory=list)  # codes, the main one first
    dq: str = ""  # the diagnosis search
    diagnosis_names: dict[str, str] = field(default_factory=dict)

    def visit_request(self, clinic: Clinic, visited_at: dt.datetime | None) -> VisitRequest:
        return VisitRequest(
            clinic=clinic.code,
            patient_id_number=self.id_number,
            injection=self.injection,
            lines=tuple(LineRequest(line.item, line.quantity) for line in self.lines),
            visited_at=visited_at,
            warning_reason=self.warning_reason or None,
            diagnoses=tuple(self.diagnoses),
        )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _posted_form(posted: NewVisitForm) -> VisitForm:
    items = posted.item.data or []
    quantities = posted.quantity.data or []
    lines = [
        FormLine(item=item, quantity=qty)
        for item, qty in zip(items, quantities + [""] * len(items), strict=False)
        if item
    ][: MAX_LINES + 5]
    return VisitForm(
        token=posted.token.data or new_token(),
        id_number=posted.id_number.data or "",
        injection=bool(posted.injection.data),
        visited_at=posted.visited_at.data or "",
        warning_reason=posted.warning_reason.data or "",
        q=posted.q.data or "",
        lines=lines,
        diagnoses=[code for code in (posted.diagnosis.data or []) if code][: MAX_DIAGNOSES + 5],
        dq=posted.dq.data or "",
    )


def parse_visited_at(text: str) -> dt.datetime | None:
    """``2026-10-15 09:30`` (Asia/Shanghai, typed in a text box) → aware time.

    A text box, not ``datetime-local``: the browser's picker speaks the PC's
    language.  ``2026/10/15 9:30`` and ``2026-10-15T09:30`` are read too.
    """
    if not text:
        return None
    moment = parse_typed_minute(text)
    if moment is None:
        raise DomainError(Problem("visited_at", "not a date and time", ProblemCode.BAD_TIME))
    return moment.replace(tzinfo=SHANGHAI)


def _attach_diagnosis_names(form: VisitForm) -> None:
    form.diagnosis_names = diagnosis_names(form.diagnoses)


def _attach_offers(form: VisitForm, day: dt.date) -> None:
    offers = offers_for([line.item for line in form.lines], day)
    for line in form.lines:
        line.offer = offers.get(line.item)
        if line.offer is not None and not line.unit_price:
            line.unit_price = format_yuan(line.offer.price)


def _apply_quote(form: VisitForm, quote: Quote) -> None:
    for line, priced in zip(form.lines, quote.split.lines, strict=True):
        line.unit_price = format_yuan(priced.unit_price)
        line.amount = format_yuan(priced.amount)


def _render_form(
    form: VisitForm,
    clinic: Clinic,
    *,
    patient: PatientEligibility | None = None,
    quote: Quote | None = None,
    results: list[ItemOffer] | None = None,
    diagnosis_results: list[DiagnosisOffer] | None = None,
    status: int = 200,
) -> Response:
    _attach_diagnosis_names(form)
    response = make_response(
        render_template(
            "visits/new_visit.html",
            form=form,
            clinic=clinic,
            patient=patient,
            quote=quote,
            totals=QuoteSchema().dump(quote)["totals"] if quote else None,
            checks=check_words(quote) if quote else [],
            results=results,
            diagnosis_results=diagnosis_results,
            max_diagnoses=MAX_DIAGNOSES,
            first_error=next(iter(form.errors.values()), ""),
            strings=_js_strings(),
            max_lines=MAX_LINES,
        ),
        status,
    )
    return no_store(response)


def _js_strings() -> dict[str, str]:
    """The few words the script writes itself, in the page's language."""
    return {
        "noMatch": _("No item matches."),
        "noDiagnosis": _("No diagnosis matches."),
        "main": _("main"),
        "tooManyDiagnoses": _("At most 5 diagnoses: the main one and four more."),
        "alreadyThere": _("The consultation fee is already on this visit."),
        "needPatient": _("Enter the patient's ID number to see the split."),
        "needLines": _("Add at least one item."),
        "updating": _("Updating…"),
        "offline": _(
            "The network is down; the split will update when it is back. Saving still works."
        ),
        "saving": _("Saving…"),
        "remove": _("Remove"),
        "quantityOf": _("Quantity of %(name)s"),
        "programmeDue": _("This visit you pay only %(amount)s yuan"),
        "due": _("This visit you pay %(amount)s yuan"),
        "loginAgain": _("Your session has ended: please log in again."),
        "classA": str(INSURANCE_CLASS["A"]),
        "classB": str(INSURANCE_CLASS["B"]),
        "classC": str(INSURANCE_CLASS["C"]),
    }


def _refresh(form: VisitForm, posted: NewVisitForm, clinic: Clinic, user: User) -> Response:
    """Re-render after a non-saving submit (no JavaScript): add, remove, look up, quote."""
    day = today()
    add = posted.add.data or ""
    remove = posted.remove.data or ""
    if remove.isdigit() and int(remove) < len(form.lines):
        del form.lines[int(remove)]
    if add:
        existing = [line for line in form.lines if line.item == add]
        if not existing:
            form.lines.append(FormLine(item=add, quantity="1"))
        form.q = ""
    add_diagnosis = posted.add_diagnosis.data or ""
    remove_diagnosis = posted.remove_diagnosis.data or ""
    if remove_diagnosis.isdigit() and int(remove_diagnosis) < len(form.diagnoses):
        del form.diagnoses[int(remove_diagnosis)]
    if add_diagnosis:
        if add_diagnosis not in form.diagnoses:
            form.diagnoses.append(add_diagnosis)
        form.dq = ""
    results = search_items(form.q, day) if form.q else None
    if results == [] and form.q:
        form.errors["q"] = _("No item matches.")
    diagnosis_results = search_diagnoses(form.dq, day) if form.dq else None
    if diagnosis_results == [] and form.dq:
        form.errors["diagnoses"] = _("No diagnosis matches.")
    return _checked_render(form, clinic, user, results=results, diagnosis_results=diagnosis_results)


def _checked_render(
    form: VisitForm,
    clinic: Clinic,
    user: User,
    *,
    results: list[ItemOffer] | None = None,
    diagnosis_results: list[DiagnosisOffer] | None = None,
    status: int = 200,
) -> Response:
    """Render the form with the patient panel and the split when they can be worked out."""
    day = today()
    _attach_offers(form, day)
    patient = quote = None
    if form.id_number:
        try:
            patient = patient_eligibility(form.id_number, clinic, day, user)
            resident_id = patient.resident.id if patient.resident else None
            record_access(user, resident_id, "eligibility", clinic.code, now())
        except DomainError as exc:
            for key, text in field_errors(exc).items():
                form.errors.setdefault(key, text)
    if patient is not None and form.lines:
        try:
            visited_at = parse_visited_at(form.visited_at)
            quote = quote_visit(
                form.visit_request(clinic, visited_at), user, now(), screen=hooks().screen
            )
            _apply_quote(form, quote)
        except DomainError as exc:
            for key, text in field_errors(exc).items():
                form.errors.setdefault(key, text)
    if form.errors and status == 200:
        status = 422
    return _render_form(
        form,
        clinic,
        patient=patient,
        quote=quote,
        results=results,
        diagnosis_results=diagnosis_results,
        status=status,
    )


@bp.route("/visits/new", methods=["GET", "POST"])
@role_required("doctor")
def new_visit() -> Response:
    user, clinic = current_user, doctors_clinic()
    if request.method == "GET":
        form = VisitForm(token=new_token())
        consultation = consultation_offer(today())
        if consultation is not None:
            form.lines.append(FormLine(item=consultation.code, quantity="1"))
        _attach_offers(form, today())
        return _render_form(form, clinic)

    posted = NewVisitForm()
    form = _posted_form(posted)
    if posted.action.data != "save":
        return _refresh(form, posted, clinic, user)
    try:
        visited_at = parse_visited_at(form.visited_at)
        visit, created = record_visit(
            form.visit_request(clinic, visited_at),
            user,
            now(),
            idempotency_key=form.token,
            screen=hooks().screen,
        )
    except DomainError as exc:
        reused = any(p.code is ProblemCode.KEY_REUSED for p in exc.problems)
        if reused:
            # This form was saved before (Back, then changed): say so, and hand
            # out a new token so a deliberate second save records a new visit.
            form.token = new_token()
            form.errors["_"] = _(
                "This form was already saved as a visit (see Today). If the patient "
                "really had a second visit, check the entries and save again; to "
                "correct the first one, void it on the Today page."
            )
        else:
            form.errors.update(field_errors(exc))
        return _checked_render(form, clinic, user, status=exc.status if not reused else 409)
    if not created:
        flash(_("This visit was already saved; it was not recorded twice."), "info")
    # After the visit's commit: the platform settles it now, or it waits (医保待结算).
    attempt = settle_after_recording(visit, user)
    if attempt is not None and attempt.status != "settled":
        flash(_("The insurance platform did not settle this visit now: it is pending "
                "settlement and will be settled later. The receipt says so."), "info")  # fmt: skip
    return redirect(url_for("visits.receipt", visit_id=visit.id), code=303)


# --- page-level JSON for the script ----------------------------------------------------


def _json_errors(exc: DomainError) -> Response:
    return make_response(jsonify(ok=False, errors=field_errors(exc)), exc.status)


@bp.route("/visits/patient", methods=["POST"])
@role_required("doctor")
def patient() -> Response:
    """The patient panel for an ID number sent in the JSON body, never in the URL."""
    user, clinic = current_user, doctors_clinic()
    body = request.get_json(silent=True)
    id_number = body.get("id_number") if isinstance(body, dict) else None
    try:
        found = patient_eligibility(
            id_number if isinstance(id_number, str) else "", clinic, today(), user
        )
    except DomainError as exc:
        return _json_errors(exc)
    record_access(
        user, found.resident.id if found.resident else None, "eligibility", clinic.code, now()
    )
    html = render_template("visits/_patient.html", patient=found)
    return jsonify(
        ok=True,
        programme=found.eligibility.programme,
        html=html,
        patient=PatientEligibilitySchema().dump(found),
    )


@bp.route("/visits/items")
@role_required("doctor")
def items() -> Response:
    doctors_clinic()
    offers = search_items(request.args.get("q", ""), today(), limit=15)
    return jsonify(ok=True, items=TerminalItemSchema(many=True).dump(offers))


@bp.route("/visits/diagnoses")
@role_required("doctor")
def diagnoses() -> Response:
    """The diagnosis search: codes valid today by pinyin initials, code or name."""
    doctors_clinic()
    found = search_diagnoses(request.args.get("q", ""), today(), limit=15)
    return jsonify(ok=True, diagnoses=TerminalDiagnosisSchema(many=True).dump(found))


def _schema_problems(error: ValidationError) -> list[Problem]:
    """A schema's refusal as problems named like the API names them (``lines[0].quantity``)."""
    return [
        # The visit time is typed by hand: its shape error is worded like the form's.
        Problem(
            name, message, ProblemCode.BAD_TIME if name == "visited_at" else ProblemCode.BAD_SHAPE
        )
        for name, messages in web_field_errors({"json": error.messages}).items()
        for message in messages
    ]


@bp.route("/visits/quote", methods=["POST"])
@role_required("doctor")
def quote() -> Response:
    """The live split: the same schema, operation and JSON as ``POST /api/v1/visits/quote``."""
    user = current_user
    doctors_clinic()
    try:
        # The API's own request schema: the same shape, refused the same way.
        visit_request = VisitInSchema().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return make_response(jsonify(ok=False, errors=field_errors(_schema_problems(error))), 422)
    try:
        priced = quote_visit(visit_request, user, now(), screen=hooks().screen)
    except DomainError as exc:
        return _json_errors(exc)
    return jsonify(
        ok=True,
        quote=QuoteSchema().dump(priced),
        checks=check_words(priced),
        status=split_status(priced),
    )


def split_status(quote: Quote) -> str:
    """The split's status line before saving: a check that blocks, or one that needs a reason."""
    hits = quote.checks.hits
    blocked = [str(RULE_NAMES[h.rule]) for h in hits if h.severity == Severity.BLOCK]
    if blocked:
        return _(
            "This visit cannot be saved: %(checks)s.", checks="、".join(dict.fromkeys(blocked))
        )
    warned = [str(RULE_NAMES[h.rule]) for h in hits if h.severity == Severity.WARN]
    if warned:
        return _(
            "Before saving, write the doctor's reason for: %(checks)s.",
            checks="、".join(dict.fromkeys(warned)),
        )
    return ""


def check_words(quote: Quote) -> list[dict[str, str]]:
    """The quote's checks at recording in the doctor's words (the page's live list)."""
    names = {item.code: item.name for item in quote.items}
    return [
        {
            "rule": hit.rule.value,
            "severity": hit.severity.value,
            "label": str(SEVERITY_NAMES[hit.severity]),
            "text": check_message(hit.rule, hit.facts, names.get(hit.subject, hit.subject)),
        }
        for hit in quote.checks.hits
    ]
