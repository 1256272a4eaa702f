"""The Today page: the clinic's visits today with the daily close (日结), and voiding.

Voiding asks for a reason behind a confirmation step (a Flask-WTF form); the
figures of the close are the settlement area's day figures, the very sums a
statement will carry.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import DomainError
from app.extensions import db
from app.people.rules import mask_id_number
from app.settlement.figures import day_figures
from app.visits.forms import VoidForm
from app.visits.messages import MESSAGES, field_errors
from app.visits.operations import void_visit
from app.visits.pages import bp, doctors_clinic, now
from app.visits.pages import today as local_today
from app.visits.queries import masked_names, visit_for, visits_between
from app.web.access import role_required


@bp.route("/visits/today")
@role_required("doctor")
def today() -> str:
    clinic = doctors_clinic()
    day = local_today()
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
@role_required("doctor")
def void(visit_id: int) -> Any:
    user = current_user
    doctors_clinic()
    visit = visit_for(visit_id, user)
    reason = ""
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        reason = VoidForm().reason.data or ""
        try:
            voided = void_visit(visit_id, reason, user, now())
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
