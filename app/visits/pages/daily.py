"""The Today page: the clinic's visits today with the daily close (日结), and voiding.

Voiding asks for a reason behind a confirmation step (a Flask-WTF form); the
figures of the close are the settlement area's day figures, the very sums a
statement will carry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.models import User
from app.errors import DomainError
from app.extensions import db
from app.localtime import local, parse_typed_day
from app.people.rules import mask_id_number
from app.places.models import Clinic
from app.settlement.figures import day_figures
from app.visits.forms import CloseDayForm, VoidForm
from app.visits.messages import MESSAGES, field_errors
from app.visits.models import DayClose
from app.visits.operations import close_day, void_visit
from app.visits.pages import bp, doctors_clinic, now
from app.visits.pages import today as local_today
from app.visits.queries import (
    DayTotals,
    day_closes,
    day_totals,
    day_visits,
    doctor_names,
    masked_names,
    visit_for,
    visits_between,
)
from app.web.access import role_required
from app.web.downloads import download
from app.web.routing import id_rule
from reports.daily import DailyDocument, DailyRow, render_daily


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


@bp.route(f"/visits/{id_rule('visit_id')}/void", methods=["GET", "POST"])
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


# --- the daily close sheet (日结单) ------------------------------------------------


def _sheet_day(text: str | None) -> dt.date:
    """The day asked for (a date in the URL is not personal data), else today."""
    day = parse_typed_day(text)
    if day is None:
        return local_today()
    return min(day, local_today())


def _sheet(clinic: Clinic, day: dt.date) -> tuple[list[Any], DayTotals, DayClose | None]:
    visits = day_visits(clinic.id, day)
    return visits, day_totals(visits), day_closes(clinic.id, {day}).get(day)


def recorders(visits: list[Any]) -> list[str]:
    """Who recorded ``visits``, by their shown names (never a login name), in order met."""
    ids = list(dict.fromkeys(v.recorded_by_id for v in visits))
    names = doctor_names(ids)
    return [names[i] for i in ids if i in names]


def _is_late(visit: Any, close: DayClose | None) -> bool:
    return close is not None and visit.recorded_at > close.closed_at


@bp.route("/visits/daily")
@role_required("doctor")
def daily_sheet() -> Any:
    clinic = doctors_clinic()
    typed = (request.args.get("day") or "").strip()[:20]
    day = _sheet_day(typed)
    # The day box is a text box (no browser date picker): what is not a day stays
    # in the box with the reason beside it, and the sheet shows today meanwhile.
    day_error = (
        _("%(field)s: give the date as 2026-11-29.", field=_("Day"))
        if typed and parse_typed_day(typed) is None
        else None
    )
    visits, totals, close = _sheet(clinic, day)
    closer = db.session.get(User, close.closed_by_id) if close else None
    return render_template(
        "visits/daily.html",
        clinic=clinic,
        day=day,
        visits=visits,
        totals=totals,
        close=close,
        closer=closer.shown_name if closer else "",
        doctors=recorders(visits),
        late={v.id for v in visits if _is_late(v, close)},
        names=masked_names([v.resident_id for v in visits if v.resident_id]),
        mask_id_number=mask_id_number,
        is_today=day == local_today(),
        previous=day - dt.timedelta(days=1),
        following=day + dt.timedelta(days=1),
        day_typed=typed if day_error else day.isoformat(),
        day_error=day_error,
    ), (422 if day_error else 200)


@bp.route("/visits/daily/close", methods=["POST"])
@role_required("doctor")
def close_the_day() -> Any:
    clinic = doctors_clinic()
    day = _sheet_day(CloseDayForm().day.data)
    try:
        close_day(clinic, day, current_user, now())
    except DomainError as exc:
        flash(next(iter(field_errors(exc).values())), "error")
    else:
        flash(_("The day %(day)s is closed.", day=day.isoformat()), "info")
    return redirect(url_for("visits.daily_sheet", day=day.isoformat()), code=303)


@bp.route("/visits/daily.pdf")
@role_required("doctor")
def daily_pdf() -> Response:
    clinic = doctors_clinic()
    day = _sheet_day(request.args.get("day"))
    visits, _totals, close = _sheet(clinic, day)
    names = masked_names([v.resident_id for v in visits if v.resident_id])
    closer = db.session.get(User, close.closed_by_id) if close else None
    doc = DailyDocument(
        clinic_code=clinic.code,
        clinic_name=clinic.name,
        day=day.isoformat(),
        generated_at=local(now()).strftime("%Y-%m-%d %H:%M"),
        doctors="、".join(recorders(visits)),
        closed=(
            f"{local(close.closed_at).strftime('%Y-%m-%d %H:%M')} {closer.shown_name}"
            if close and closer
            else ""
        ),
        rows=[
            DailyRow(
                time=local(v.visited_at).strftime("%H:%M"),
                receipt_number=v.receipt_number,
                patient=names.get(v.resident_id or 0, "")
                + " "
                + mask_id_number(v.patient_id_number),
                registration=v.registration,
                injection_fee=v.injection_fee,
                patient_share=v.copay + v.self_pay,
                cash=v.patient,
                total=v.total,
                voided=v.voided_at is not None,
                void_reason=v.void_reason or "",
                late=_is_late(v, close),
            )
            for v in visits
        ],
    )
    return download(render_daily(doc), "pdf", f"daily-{clinic.code}-{day}.pdf", inline=True)
