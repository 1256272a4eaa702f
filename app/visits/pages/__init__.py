"""The clinic terminal: a village doctor's day in the browser, one module per page.

* :mod:`.terminal` — the new-visit form and the JSON its script asks for
  (patient panel, catalogue search, the live quote);
* :mod:`.receipt` — the patient's receipt, on screen and as PDF;
* :mod:`.daily` — the clinic's visits today with the daily close, and voiding.

Shared here: the blueprint, the sign-in guard (JSON endpoints answer 401 JSON
rather than a redirect), the doctor's clinic and the clock.  Nothing in this
package prices, splits or writes by itself: every number comes from the visit
operations and queries, every write is one of their units of work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.clock import clock
from app.errors import Forbidden, Problem, ProblemCode
from app.localtime import local_date
from app.people.rules import mask_id_number, mask_name
from app.places.models import Clinic
from app.visits.labels import labels

bp = Blueprint(
    "visits",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/static/visits",
)

JSON_ENDPOINTS = {
    "visits.patient",
    "visits.items",
    "visits.quote",
    "visits.offline_bundle_json",
    "visits.offline_token",
    "visits.offline_sync",
}
# No login: the service worker script holds no data (app.visits.pages.offline).
PUBLIC_ENDPOINTS = {"visits.service_worker"}

bp.add_app_template_filter(mask_name, "mask_name")
bp.add_app_template_filter(mask_id_number, "mask_id")


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"labels": labels()}


@bp.before_request
def _signed_in() -> Any:
    if current_user.is_authenticated or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint in JSON_ENDPOINTS:
        return jsonify(
            ok=False, login=url_for("web.login"), errors={"_": _("Please log in again.")}
        ), 401
    return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]


def doctors_clinic() -> Clinic:
    """The signed-in doctor's clinic (after ``role_required("doctor")``)."""
    clinic: Clinic | None = current_user.clinic
    if clinic is None:
        raise Forbidden(
            Problem("_", "only a clinic's doctor records visits", ProblemCode.NO_CLINIC)
        )
    return clinic


def now() -> dt.datetime:
    return clock()()


def today() -> dt.date:
    return local_date(now())


def no_store(response: Response) -> Response:
    # A form page is never served from cache: Back shows a fresh form (and token).
    response.headers["Cache-Control"] = "no-store"
    return response


# Importing the page modules registers their routes on ``bp``.
from app.visits.pages import daily, offline, receipt, register, terminal  # noqa: E402, F401
