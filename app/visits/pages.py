"""The clinic terminal: a village doctor's day in the browser (issue 3).

Pages (server-rendered, usable without JavaScript; ``static/terminal.js`` only
enhances them):

* ``visits.new_visit`` — register a visit: ID number, catalogue lines, injection,
  the split, save.  The form carries an idempotency token made when the page is
  rendered, handed to :func:`record_visit`, so a double click, a reload or a
  resubmission after a network error records one visit; a save answers with a
  redirect to the receipt (POST/redirect/GET).
* ``visits.receipt`` / ``visits.receipt_pdf`` — the patient's receipt.
* ``visits.today`` — the clinic's visits today with the daily close (日结),
  and ``visits.void`` — voiding with a reason behind a confirmation step.

Page-level JSON (session cookie + CSRF header; the ``/api/v1`` API takes bearer
tokens only): ``visits.patient`` (patient panel), ``visits.items`` (catalogue
search) and ``visits.quote`` (the live split, :func:`quote_visit` +
:func:`quote_json`, the very numbers the API quote gives).

Nothing here prices, splits or writes by itself: every number comes from the
visit operations and queries, every write is one of their units of work.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.auth.models import User
from app.catalog.queries import ItemOffer, diagnosis_offer, offers_for, search_items
from app.clock import clock
from app.errors import DomainError, Forbidden, Problem
from app.extensions import db
from app.localtime import SHANGHAI, local_date
from app.money import format_yuan
from app.people.rules import mask_id_number, mask_name
from app.places.models import Clinic
from app.settlement.figures import day_figures
from app.visits.messages import MESSAGES, field_errors
from app.visits.operations import (
    MAX_LINES,
    LineRequest,
    Quote,
    VisitRequest,
    quote_visit,
    record_visit,
    void_visit,
)
from app.visits.queries import (
    PatientEligibility,
    masked_names,
    patient_eligibility,
    visit_for,
    visits_between,
)
from app.visits.receipts import REASON_WORDS, reason_words, receipt_document, receipt_pdf
from app.visits.schemas import PatientEligibilitySchema, QuoteSchema, VisitInSchema
from app.web.errors import field_errors as web_field_errors

bp = Blueprint(
    "visits",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/visits",
)

JSON_ENDPOINTS = {"visits.patient", "visits.items", "visits.quote"}

bp.add_app_template_filter(mask_name, "mask_name")
bp.add_app_template_filter(mask_id_number, "mask_id")

# --- words the doctor reads ---------------------------------------------------------

REASONS = REASON_WORDS
INSURANCE = {
    "resident": _l("Urban and rural residents' insurance"),
    "employee": _l("Employees' insurance"),
    "none": _l("Not insured"),
}
VILLAGE_KIND = {"village": _l("administrative village"), "community": _l("urban community")}
INSURANCE_CLASS = {"A": _l("Class A"), "B": _l("Class B"), "C": _l("Class C (self-pay)")}
KIND = {
    "diagnosis": _l("Diagnosis"),
    "drug": _l("Drug"),
    "service": _l("Service"),
    "material": _l("Material"),
}

# --- access -------------------------------------------------------------------------


@bp.before_request
def _signed_in() -> Any:
    if current_user.is_authenticated:
        return None
    if request.endpoint in JSON_ENDPOINTS:
        return jsonify(
            ok=False, login=url_for("web.login"), errors={"_": _("Please log in again.")}
        ), 401
    return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]


def _doctor() -> tuple[User, Clinic]:
    """The signed-in doctor and his clinic; anyone else gets a 403."""
    user: User = current_user
    if user.role != "doctor" or user.clinic is None:
        raise Forbidden(Problem("_", "only a clinic's doctor records visits", "role"))
    return user, user.clinic


def _now() -> dt.datetime:
    return clock()()


def _today() -> dt.date:
    return local_date(_now())


def _no_store(response: Response) -> Response:
    # A form page is never served from cache: Back shows a fresh form (and token).
    response.headers["Cache-Control"] = "no-store"
    return response


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
    q: str = ""
    lines: list[FormLine] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def visit_request(self, clinic: Clinic, visited_at: dt.datetime | None) -> VisitRequest:
        return VisitRequest(
            clinic=clinic.code,
            patient_id_number=self.id_number,
            injection=self.injection,
            lines=tuple(LineRequest(line.item, line.quantity) for line in self.lines),
            visited_at=visited_at,
        )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _posted_form() -> VisitForm:
    items = request.form.getlist("item")
    quantities = request.form.getlist("quantity")
    lines = [
        FormLine(item=item.strip(), quantity=(qty or "").strip())
        for item, qty in zip(items, quantities + [""] * len(items), strict=False)
        if item.strip()
    ][: MAX_LINES + 5]
    token = request.form.get("token", "").strip()[:100] or new_token()
    return VisitForm(
        token=token,
        id_number=request.form.get("id_number", "").strip().replace(" ", "")[:30],
        injection=request.form.get("injection") in ("1", "on", "true"),
        visited_at=request.form.get("visited_at", "").strip()[:20],
        q=request.form.get("q", "").strip()[:50],
        lines=lines,
    )


def parse_visited_at(text: str) -> dt.datetime | None:
    """``2026-10-15T09:30`` (Asia/Shanghai, from ``datetime-local``) → aware time."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(Problem("visited_at", "not a date and time", "bad_time")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment


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
    status: int = 200,
) -> Response:
    response = make_response(
        render_template(
            "visits/new_visit.html",
            form=form,
            clinic=clinic,
            patient=patient,
            quote=quote,
            totals=QuoteSchema().dump(quote)["totals"] if quote else None,
            results=results,
            strings=_js_strings(),
            labels=_labels(),
            max_lines=MAX_LINES,
        ),
        status,
    )
    return _no_store(response)


def _labels() -> dict[str, Any]:
    return {
        "reasons": REASONS,
        "insurance": INSURANCE,
        "village_kind": VILLAGE_KIND,
        "insurance_class": INSURANCE_CLASS,
        "kind": KIND,
    }


def _js_strings() -> dict[str, str]:
    """The few words the script writes itself, in the page's language."""
    return {
        "noMatch": _("No item matches."),
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


def _refresh(form: VisitForm, clinic: Clinic, user: User) -> Response:
    """Re-render after a non-saving submit (no JavaScript): add, remove, look up, quote."""
    day = _today()
    add = request.form.get("add", "").strip()
    remove = request.form.get("remove", "").strip()
    if remove.isdigit() and int(remove) < len(form.lines):
        del form.lines[int(remove)]
    if add:
        existing = [line for line in form.lines if line.item == add]
        if not existing:
            form.lines.append(FormLine(item=add, quantity="1"))
        form.q = ""
    results = search_items(form.q, day) if form.q else None
    if results == [] and form.q:
        form.errors["q"] = _("No item matches.")
    return _checked_render(form, clinic, user, results=results)


def _checked_render(
    form: VisitForm,
    clinic: Clinic,
    user: User,
    *,
    results: list[ItemOffer] | None = None,
    status: int = 200,
) -> Response:
    """Render the form with the patient panel and the split when they can be worked out."""
    day = _today()
    _attach_offers(form, day)
    patient = quote = None
    if form.id_number:
        try:
            patient = patient_eligibility(form.id_number, clinic, day, user)
        except DomainError as exc:
            for key, text in field_errors(exc).items():
                form.errors.setdefault(key, text)
    if patient is not None and form.lines:
        try:
            visited_at = parse_visited_at(form.visited_at)
            quote = quote_visit(form.visit_request(clinic, visited_at), user, _now())
            _apply_quote(form, quote)
        except DomainError as exc:
            for key, text in field_errors(exc).items():
                form.errors.setdefault(key, text)
    if form.errors and status == 200:
        status = 422
    return _render_form(form, clinic, patient=patient, quote=quote, results=results, status=status)


@bp.route("/visits/new", methods=["GET", "POST"])
def new_visit() -> Response:
    user, clinic = _doctor()
    if request.method == "GET":
        form = VisitForm(token=new_token())
        diagnosis = diagnosis_offer(_today())
        if diagnosis is not None:
            form.lines.append(FormLine(item=diagnosis.code, quantity="1"))
        _attach_offers(form, _today())
        return _render_form(form, clinic)

    form = _posted_form()
    if request.form.get("action") != "save":
        return _refresh(form, clinic, user)
    try:
        visited_at = parse_visited_at(form.visited_at)
        visit, created = record_visit(
            form.visit_request(clinic, visited_at), user, _now(), idempotency_key=form.token
        )
    except DomainError as exc:
        reused = any(p.code == "key_reused" for p in exc.problems)
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
    return redirect(url_for("visits.receipt", visit_id=visit.id), code=303)


# --- page-level JSON for the script ----------------------------------------------------


def _json_errors(exc: DomainError) -> Response:
    return make_response(jsonify(ok=False, errors=field_errors(exc)), exc.status)


@bp.route("/visits/patient")
def patient() -> Response:
    user, clinic = _doctor()
    try:
        found = patient_eligibility(request.args.get("id_number", ""), clinic, _today(), user)
    except DomainError as exc:
        return _json_errors(exc)
    html = render_template("visits/_patient.html", patient=found, labels=_labels())
    return jsonify(
        ok=True,
        programme=found.eligibility.programme,
        html=html,
        patient=PatientEligibilitySchema().dump(found),
    )


@bp.route("/visits/items")
def items() -> Response:
    _doctor()
    offers = search_items(request.args.get("q", ""), _today(), limit=15)
    return jsonify(
        ok=True,
        items=[
            {
                "code": o.code,
                "name": o.name,
                "unit": o.unit,
                "kind": o.kind,
                "kind_label": str(KIND.get(o.kind, o.kind)),
                "insurance_class": o.insurance_class,
                "class_label": str(INSURANCE_CLASS.get(o.insurance_class, "")),
                "price": format_yuan(o.price),
            }
            for o in offers
        ],
    )


def _schema_problems(error: ValidationError) -> list[Problem]:
    """A schema's refusal as problems named like the API names them (``lines[0].quantity``)."""
    return [
        Problem(name, message)
        for name, messages in web_field_errors({"json": error.messages}).items()
        for message in messages
    ]


@bp.route("/visits/quote", methods=["POST"])
def quote() -> Response:
    """The live split: the same schema, operation and JSON as ``POST /api/v1/visits/quote``."""
    user, _clinic = _doctor()
    try:
        # The API's own request schema: the same shape, refused the same way.
        visit_request = VisitInSchema().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return make_response(jsonify(ok=False, errors=field_errors(_schema_problems(error))), 422)
    try:
        priced = quote_visit(visit_request, user, _now())
    except DomainError as exc:
        return _json_errors(exc)
    return jsonify(ok=True, quote=QuoteSchema().dump(priced))


# --- receipt ----------------------------------------------------------------------------


@bp.route("/visits/<int(max=2147483647):visit_id>/receipt")
def receipt(visit_id: int) -> str:
    visit = visit_for(visit_id, current_user)  # 403 outside the user's clinic
    return render_template(
        "visits/receipt.html",
        visit=visit,
        doc=receipt_document(visit),
        reasons=reason_words(visit.reason_codes),
        classes=INSURANCE_CLASS,
        kinds=KIND,
    )


@bp.route("/visits/<int(max=2147483647):visit_id>/receipt.pdf")
def receipt_pdf_file(visit_id: int) -> Response:
    visit = visit_for(visit_id, current_user)
    with force_locale("zh"):  # the printed receipt is Chinese whatever the screen says
        pdf = receipt_pdf(visit)
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="receipt-{visit.receipt_number}.pdf"'
    )
    return response


# --- today and void -----------------------------------------------------------------------


@bp.route("/visits/today")
def today() -> str:
    _, clinic = _doctor()
    day = _today()
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    per_page = int(current_app.config.get("PAGE_SIZE", 50))
    visits, total = visits_between(clinic, day, day, page=page_no, per_page=per_page)
    names = masked_names([v.resident_id for v in visits if v.resident_id])
    return render_template(
        "visits/today.html",
        clinic=clinic,
        day=day,
        visits=visits,
        names=names,
        figures=day_figures(clinic.id, day),
        page=page_no,
        pages=max(1, -(-total // per_page)),
        total=total,
        mask_id_number=mask_id_number,
    )


@bp.route("/visits/<int(max=2147483647):visit_id>/void", methods=["GET", "POST"])
def void(visit_id: int) -> Any:
    user, _clinic = _doctor()
    visit = visit_for(visit_id, user)
    reason = ""
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        reason = request.form.get("reason", "").strip()
        try:
            voided = void_visit(visit_id, reason, user, _now())
        except DomainError as exc:
            errors = field_errors(exc)
            status = exc.status
            db.session.expire_all()
            visit = visit_for(visit_id, user)
        else:
            flash(_("Receipt %(number)s is voided.", number=voided.receipt_number), "info")
            return redirect(url_for("visits.today"), code=303)
    elif visit.voided:
        errors = {"_": str(MESSAGES["voided"])}
    names = masked_names([visit.resident_id] if visit.resident_id else [])
    return (
        render_template(
            "visits/void.html",
            visit=visit,
            reason=reason,
            errors=errors,
            patient_name=names.get(visit.resident_id or 0, ""),
            patient_id=mask_id_number(visit.patient_id_number),
        ),
        status,
    )
