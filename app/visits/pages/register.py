"""The visit register (就诊登记簿): a clinic's visits found by date, patient, receipt, status.

The doctor searches his own clinic and may void, from here, a visit of a month
still open; reviewers, finance and admins search the clinics in their scope,
read-only.  The search is a POST form: an ID number never goes in a URL (the
first page, a GET, shows this month's visits).  A search by ID number is logged
as a read of the resident's record.  Names and ID numbers are masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.operations import record_access
from app.errors import DomainError, Forbidden, Problem, ProblemCode
from app.localtime import parse_typed_day
from app.people.rules import mask_id_number, parse_id_number
from app.places.models import Clinic
from app.visits.forms import RegisterForm
from app.visits.messages import field_errors
from app.visits.pages import bp, no_store, now, today
from app.visits.queries import (
    RegisterFilter,
    day_closes,
    doctor_names,
    masked_names,
    month_statuses,
    register_visits,
    visible_clinics,
    visit_for,
)
from app.web.access import role_required

STATUSES = ("all", "normal", "voided")


def _date(text: str, field: str, errors: dict[str, str]) -> dt.date | None:
    """A typed day (2026-11-29, 2026/11/29, 20261129); a refusal names the box."""
    if not text:
        return None
    day = parse_typed_day(text)
    if day is None:
        label = _("From") if field == "date_from" else _("To")
        errors[field] = _("%(field)s: give the date as 2026-11-29.", field=label)
    return day


def _clinic(chosen: str) -> tuple[Clinic, list[Clinic]]:
    """The clinic searched: the doctor's own, or one chosen in the user's scope."""
    if current_user.role == "doctor":
        clinic: Clinic | None = current_user.clinic
        if clinic is None:
            raise Forbidden(Problem("_", "only a clinic's doctor", ProblemCode.NO_CLINIC))
        return clinic, [clinic]
    clinics = visible_clinics(current_user)
    if not clinics:
        raise Forbidden(Problem("clinic", "no clinic in your scope", ProblemCode.SCOPE))
    by_code = {c.code: c for c in clinics}
    return by_code.get(chosen, clinics[0]), clinics


# The doctor's last register search, so that voiding one of its results leads back to
# it.  The session cookie is signed, not encrypted: an ID number searched is kept as
# "the patient of visit N" (an internal id), never as the number itself.
REGISTER_SEARCH = "register_search"
_REMEMBERED = ("date_from", "date_to", "patient", "receipt", "status", "page")


def _search_to_remember(
    values: dict[str, str], id_number: str, visits: list[Any]
) -> dict[str, str]:
    kept = {k: values[k] for k in _REMEMBERED}
    if id_number:
        kept["patient"] = ""
        kept["patient_of"] = str(visits[0].id) if visits else ""
    return kept


def _remembered_search(kept: Any) -> dict[str, str]:
    if not isinstance(kept, dict):
        return {}
    values = {k: str(kept.get(k, "")) for k in _REMEMBERED if kept.get(k) is not None}
    patient_of = str(kept.get("patient_of") or "")
    if patient_of.isdigit():
        try:
            values["patient"] = visit_for(int(patient_of), current_user).patient_id_number
        except DomainError:
            values["patient"] = ""
    return values


@bp.route("/visits/register", methods=["GET", "POST"])
@role_required("doctor", "reviewer", "finance", "admin")
def register() -> Any:
    day = today()
    posted = RegisterForm() if request.method == "POST" else None
    values = {
        "date_from": day.replace(day=1).isoformat(),
        "date_to": day.isoformat(),
        "patient": "",
        "receipt": "",
        "status": "all",
        "clinic": "",
        "page": "1",
    }
    if posted is not None:
        values.update({k: getattr(posted, k).data or "" for k in values})
    elif request.args.get("again") and REGISTER_SEARCH in session:
        # Back from voiding one of the results: the doctor's search again.
        values.update(_remembered_search(session[REGISTER_SEARCH]))
    errors: dict[str, str] = {}
    clinic, clinics = _clinic(values["clinic"])
    date_from = _date(values["date_from"], "date_from", errors)
    date_to = _date(values["date_to"], "date_to", errors)
    status = values["status"] if values["status"] in STATUSES else "all"
    if values["receipt"] and not errors:
        # A receipt number names its visit: found whatever the dates (left at this
        # month by default, they hid every receipt of an earlier month).
        date_from = date_to = None
    patient = values["patient"]
    id_number = name = ""
    if patient and (patient[0].isdigit() or len(patient) >= 15):
        try:
            id_number = parse_id_number(patient, "id_number").value
        except DomainError as exc:
            errors["patient"] = next(iter(field_errors(exc).values()))
    else:
        name = patient
    page = int(values["page"]) if values["page"].isdigit() else 1
    page = min(max(page, 1), 99_999)
    per_page = int(current_app.config.get("PAGE_SIZE", 50))
    visits: list[Any] = []
    total = 0
    if not errors:
        search = RegisterFilter(date_from, date_to, id_number, name, values["receipt"], status)
        visits, total = register_visits(clinic, search, page=page, per_page=per_page)
        if id_number:
            for resident_id in {v.resident_id for v in visits if v.resident_id}:
                record_access(current_user, resident_id, "register", clinic.code, now())
        if current_user.role == "doctor":
            session[REGISTER_SEARCH] = _search_to_remember(values, id_number, visits)
    months = month_statuses(clinic.id, {v.month for v in visits})
    closes = day_closes(clinic.id, {v.visit_date for v in visits})
    late = {
        v.id
        for v in visits
        if v.visit_date in closes and v.recorded_at > closes[v.visit_date].closed_at
    }
    doctor = current_user.role == "doctor"
    response = current_app.make_response(
        (
            render_template(
                "visits/register.html",
                clinic=clinic,
                clinics=clinics,
                values=values,
                patient_shown=mask_id_number(id_number) if id_number else name,
                status=status,
                errors=errors,
                visits=visits,
                names=masked_names([v.resident_id for v in visits if v.resident_id]),
                doctors=doctor_names({v.recorded_by_id for v in visits}),
                months=months,
                late=late,
                can_void=doctor,
                page=page,
                pages=max(1, -(-total // per_page)),
                total=total,
                mask_id_number=mask_id_number,
                searched=posted is not None,
            ),
            422 if errors else 200,
        )
    )
    return no_store(response)
