"""The terminal through an outage (issue 25): its service worker, what it keeps, its uploads.

* ``visits.service_worker`` (``/visits/sw.js``): the service worker, served from
  ``/visits/`` so that its scope covers the new-visit page.  It keeps the page and
  its assets (``static/offline/sw.js``); nothing personal is in them.
* ``visits.offline_bundle``: what the terminal prices and checks with while the
  server is unreachable (:func:`app.visits.offline.offline_bundle`): catalogue
  prices, fees, a roster without readable personal data; with the server's time,
  so the terminal can date a capture on the server's clock.
* ``visits.offline_token``: a fresh CSRF token and the server's time before an upload
  (the page the terminal shows may have come from the cache of an older session).
* ``visits.offline_sync``: one queued visit, uploaded with its ``Idempotency-Key``:
  the API's request schema (:class:`VisitInSchema`, with its ``offline`` part) and
  the one recording operation, :func:`record_visit` — so a visit sent twice is
  recorded once and it gets its receipt number here, in upload order.  A refusal
  answers the doctor's words by field, the problem codes (the terminal picks what
  the doctor can do from them) and, where it helps, the server's own figures.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import jsonify, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, ValidationError, fields
from werkzeug.wrappers import Response

from app.errors import DomainError, Problem, ProblemCode
from app.fields import Yuan
from app.insurance.pages import settle_after_recording
from app.localtime import local
from app.money import format_yuan
from app.visits.hooks import hooks
from app.visits.labels import INSURANCE_CLASS, KIND
from app.visits.messages import field_errors, problem_text
from app.visits.offline import OfflineBundle, offline_bundle
from app.visits.operations import quote_visit, record_visit
from app.visits.pages import bp, doctors_clinic, no_store, now, today
from app.visits.pages.terminal import _schema_problems, check_words
from app.visits.schemas import QuoteSchema, VisitInSchema
from app.web.access import role_required
from app.web.glossary import term_name

SERVICE_WORKER = Path(__file__).resolve().parents[1] / "static" / "offline" / "sw.js"
# Codes whose answer carries the server's own figures for the visit.
PRICED_CODES = {"patient_differs", "programme_differs", "warning_reason_required"}


def _window_end(day: dt.date) -> dt.date:
    """The last day of next month: an outage across a month's end still prices."""
    first_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return (first_next + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


class _PriceSchema(Schema):
    price = Yuan()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


class _ItemSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    kind_label = fields.Function(lambda item: str(KIND.get(item.kind, item.kind)))
    unit = fields.String()
    insurance_class = fields.String()
    class_label = fields.Function(lambda item: str(INSURANCE_CLASS.get(item.insurance_class, "")))
    pinyin = fields.String()
    prices = fields.List(fields.Nested(_PriceSchema))


class _PolicySchema(Schema):
    effective_from = fields.Date()
    registration_fee = Yuan()
    injection_fee = Yuan()
    class_b_selfpay_ratio = fields.String()
    class_b_selfpay_backstopped = fields.Boolean()


class OfflineBundleSchema(Schema):
    """The bundle as the terminal stores it: money as yuan strings, days as ISO dates."""

    clinic = fields.Function(lambda b: b.clinic.code)
    clinic_name = fields.Function(lambda b: b.clinic.name)
    window_from = fields.Date()
    window_to = fields.Date()
    items = fields.List(fields.Nested(_ItemSchema))
    policies = fields.List(fields.Nested(_PolicySchema))
    salt = fields.String()
    roster = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()))


def offline_strings() -> dict[str, str]:
    """The words the offline module writes itself, in the page's language."""
    return {
        "queued": _("Waiting to upload %(n)s"),
        "queueTitle": _("Visits saved offline"),
        "offlineMode": _(
            "Offline: the server cannot be reached. Visits are saved on this PC and "
            "uploaded when the network is back."
        ),
        "noBundle": _(
            "Offline, and this PC has no catalogue yet: open this page once while online."
        ),
        "stale": _("The offline data is out of date for this day: the payment is provisional."),
        "estimate": _(
            "Offline: amounts are provisional. The insurance fund's and the district's "
            "shares are computed by the server after upload."
        ),
        "later": _("after upload"),
        "onRoster": _("One-yuan programme (offline roster)"),
        "notOnRoster": _(
            "Not on this clinic's offline roster: the patient pays the full amount for "
            "now; the server settles it after upload (any difference is refunded)."
        ),
        "dueProgramme": _("This visit you pay only %(amount)s yuan (provisional)"),
        "dueFull": _("This visit you pay %(amount)s yuan for now (full amount, provisional)"),
        "badId": _("The ID number must be 18 characters with a valid check digit."),
        "saved": _("Saved on this PC as %(code)s; it will be uploaded when the network is back."),
        "printSlip": _("Print provisional slip"),
        "next": _("Next patient"),
        "slipTitle": _("Provisional slip (offline)"),
        "slipCode": _("Slip no."),
        "slipTime": _("Captured at"),
        "slipPatient": _("Patient"),
        "slipPays": str(term_name("patient")),  # the glossary's name: one name everywhere
        "slipNote": _(
            "Recorded while the network was down. The official receipt number is given "
            "by the server after upload; the insurance fund's and the district's shares "
            "are computed by the server then. Keep this slip: the official receipt can "
            "be printed with its number afterwards."
        ),
        "statePending": _("waiting"),
        "stateSending": _("uploading"),
        "stateSynced": _("recorded, receipt %(receipt)s"),
        "stateConflict": _("refused by the server"),
        "stateDiscarded": _("discarded: %(reason)s"),
        "stateOtherUser": _("waits for %(user)s to log in"),
        "loginAgain": _("Log in again to upload the waiting visits."),
        "printReceipt": _("Print official receipt"),
        "whatToDo": _("What you can do:"),
        "addReason": _("Add the reason and upload again"),
        "reasonLabel": _("Reason"),
        "acceptServer": _(
            "Accept the server's amount %(amount)s yuan and upload (settle the difference "
            "with the patient)"
        ),
        "editItems": _("Change the items: load it into the form"),
        "discard": _("Discard with a reason"),
        "discardLabel": _("Reason for discarding"),
        "reasonNeeded": _("Please give a reason."),
        "editing": _(
            "Changing the offline visit %(code)s: its capture time stays; save to queue it again."
        ),
        "serverSays": _("Server: the patient pays %(amount)s yuan."),
        "unsent": _(
            "The network dropped while saving: this visit was not confirmed by the server. "
            "The form is filled in again; save it to keep it on this PC (it is uploaded "
            "when the network is back, and never recorded twice)."
        ),
        "badQuantity": _("The quantity must be a number, e.g. 2 or 0.5."),
        "noPrice": _("This item has no approved price on the visit date."),
        "kept": _("Kept on this PC for offline work: %(kb)s KB"),
        "monthFrozen": _(
            "The month was submitted meanwhile: ask the reviewer to return it, or discard."
        ),
    }


bp.add_app_template_global(offline_strings, "offline_strings")


@bp.route("/visits/sw.js")
def service_worker() -> Response:
    """The service worker: no login needed (it holds no data), revalidated on every update."""
    response = Response(SERVICE_WORKER.read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _bundle_answer(bundle: OfflineBundle) -> dict[str, Any]:
    answer: dict[str, Any] = OfflineBundleSchema().dump(bundle)
    return answer


def _server_time() -> str:
    return local(now()).isoformat(timespec="milliseconds")


@bp.route("/visits/offline/bundle")
@role_required("doctor")
def offline_bundle_json() -> Response:
    clinic = doctors_clinic()
    day = today()
    bundle = offline_bundle(clinic, day, _window_end(day), secrets.token_bytes(16))
    return no_store(
        jsonify(
            ok=True,
            user=current_user.username,
            server_now=_server_time(),
            csrf_token=generate_csrf(),
            bundle=_bundle_answer(bundle),
        )
    )


@bp.route("/visits/offline/token")
@role_required("doctor")
def offline_token() -> Response:
    doctors_clinic()
    return no_store(
        jsonify(
            ok=True,
            user=current_user.username,
            server_now=_server_time(),
            csrf_token=generate_csrf(),
        )
    )


def _refusal(problems: list[Problem], status: int, extra: dict[str, Any]) -> Response:
    return make_response(
        jsonify(
            ok=False,
            errors={
                **field_errors(problems),
                **{f"code:{p.code}": problem_text(p) for p in problems},
            },
            codes=sorted({p.code for p in problems}),
            **extra,
        ),
        status,
    )


@bp.route("/visits/offline/sync", methods=["POST"])
@role_required("doctor")
def offline_sync() -> Response:
    user = current_user
    doctors_clinic()
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        problem = Problem("Idempotency-Key", "is required", ProblemCode.REQUIRED)
        return _refusal([problem], 428, {})
    try:
        visit_request = VisitInSchema().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return _refusal(_schema_problems(error), 422, {})
    if visit_request.offline is None:
        return _refusal([Problem("offline", "is required here", ProblemCode.REQUIRED)], 422, {})
    clock_now = now()
    try:
        visit, created = record_visit(
            visit_request, user, clock_now, idempotency_key=key, screen=hooks().screen
        )
    except DomainError as exc:
        extra: dict[str, Any] = {}
        codes = {p.code for p in exc.problems}
        if codes & PRICED_CODES or any(c.startswith("check_") for c in codes):
            try:
                # The same visit priced without the slip's expectations: what the
                # server would record, shown beside what the slip said.
                as_recorded = replace(
                    visit_request,
                    offline=None,
                    visited_at=visit_request.visited_at or visit_request.offline.captured_at,
                )
                quote = quote_visit(as_recorded, user, clock_now, screen=hooks().screen)
                extra = {"quote": QuoteSchema().dump(quote), "checks": check_words(quote)}
            except DomainError:
                extra = {}
        return _refusal(list(exc.problems), exc.status, extra)
    if created:
        # An uploaded visit is settled with the platform like any other, after its
        # commit; unreachable, it waits as 医保待结算 for the retry loop (issue 25 §4).
        settle_after_recording(visit, user)
    return make_response(
        jsonify(
            ok=True,
            created=created,
            visit_id=visit.id,
            receipt_number=visit.receipt_number,
            receipt_url=url_for("visits.receipt", visit_id=visit.id),
            patient=format_yuan(visit.patient),
            programme=visit.programme,
        ),
        201 if created else 200,
    )
