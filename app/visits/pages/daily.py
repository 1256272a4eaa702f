"""The Today page: the clinic's visits today with the daily close (日结), and voiding.

Voiding asks for a reason behind a confirmation step (a Flask-WTF form); the
figures of the close are the settlement area's day figures, the very sums a
statement will carry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.errors import DomainError, ProblemCode
from app.extensions import db
from app.insurance.pages import failure_words, reverse_after_void, status_words
from app.insurance.queries import statuses_for_visits, unsettled
from app.localtime import local, parse_typed_day
from app.people.rules import mask_id_number
from app.places.models import Clinic
from app.visits.figures import day_figures
from app.visits.forms import CloseDayForm, VoidForm
from app.visits.messages import field_errors
from app.visits.operations import close_day, void_visit
from app.visits.pages import bp, doctors_clinic, now
from app.visits.pages import today as local_today
from app.visits.queries import (
    DayEntry,
    DaySection,
    DayTotals,
    closes_of_day,
    day_sections,
    day_totals,
    day_visits,
    doctor_names,
    masked_names,
    visit_for,
    visits_between,
)
from app.web.access import role_required
from app.web.downloads import Document, send_document
from app.web.messages import MESSAGES
from app.web.routing import id_rule
from reports.daily import DailyDocument, DailyRow, DailySection, render_daily


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
        unsettled=unsettled([clinic.id]),
        settlements=statuses_for_visits(v.id for v in visits),
        status_words=status_words,
        failure_words=failure_words,
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
    # Opened from the register: back to the doctor's search there, not to today's list.
    from_register = request.args.get("back") == "register"
    back_url = url_for("visits.register", again=1) if from_register else url_for("visits.today")
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
            if reverse_after_void(voided.id) == "pending":
                flash(_("The insurance settlement will be reversed when the platform answers."),
                      "info")  # fmt: skip
            return redirect(back_url, code=303)
    elif visit.voided:
        errors = {"_": str(MESSAGES[ProblemCode.VOIDED])}
    names = masked_names([visit.resident_id] if visit.resident_id else [])
    return (
        render_template(
            "visits/void.html",
            visit=visit,
            reason=reason,
            errors=errors,
            patient_name=names.get(visit.resident_id or 0, ""),
            back_url=back_url,
            from_register=from_register,
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


def _sheet(clinic: Clinic, day: dt.date) -> tuple[list[Any], DayTotals, list[DaySection]]:
    visits = day_visits(clinic.id, day)
    return visits, day_totals(visits), day_sections(visits, closes_of_day(clinic.id, day))


def _closers(sections: list[DaySection]) -> dict[int, str]:
    """Who closed each section, by the name the sheet shows (display name, not login)."""
    ids = {s.close.closed_by_id for s in sections if s.close is not None}
    return doctor_names(ids)


def _section_title(section: DaySection, closers: dict[int, str]) -> str:
    close = section.close
    if close is None:
        if section.number == 1:
            return _("Not closed yet")
        return _("Entered after the last close (not closed yet)")
    return _(
        "Close %(n)d: %(at)s %(who)s",
        n=close.seq,
        at=local(close.closed_at).strftime("%Y-%m-%d %H:%M"),
        who=closers.get(close.closed_by_id, ""),
    )


def recorders(visits: list[Any]) -> list[str]:
    """Who recorded ``visits``, by their shown names (never a login name), in order met."""
    ids = list(dict.fromkeys(v.recorded_by_id for v in visits))
    names = doctor_names(ids)
    return [names[i] for i in ids if i in names]


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
    visits, totals, sections = _sheet(clinic, day)
    closers = _closers(sections)
    return render_template(
        "visits/daily.html",
        clinic=clinic,
        day=day,
        visits=visits,
        totals=totals,
        sections=sections,
        titles=[_section_title(s, closers) for s in sections],
        can_close=bool(sections) and sections[-1].close is None,
        closed=[s for s in sections if s.close is not None],
        doctors=recorders(visits),
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
    visits, _totals, sections = _sheet(clinic, day)
    names = masked_names([v.resident_id for v in visits if v.resident_id])
    closers = _closers(sections)
    last = next((s.close for s in reversed(sections) if s.close is not None), None)

    def row(entry: DayEntry, late: bool) -> DailyRow:
        v = entry.visit
        return DailyRow(
            time=local(v.visited_at).strftime("%H:%M"),
            receipt_number=v.receipt_number,
            patient=names.get(v.resident_id or 0, "") + " " + mask_id_number(v.patient_id_number),
            registration=v.registration,
            injection_fee=v.injection_fee,
            patient_share=v.copay + v.self_pay,
            cash=v.patient,
            total=v.total,
            voided=entry.voided_here or entry.reversal,
            void_reason=v.void_reason or "",
            late=late and not entry.reversal,
            reversal=entry.reversal,
        )

    with force_locale("zh"):  # the printed sheet is in Chinese, whoever prints it
        titles = [_section_title(section, closers) for section in sections]
    doc = DailyDocument(
        clinic_code=clinic.code,
        clinic_name=clinic.name,
        day=day.isoformat(),
        generated_at=local(now()).strftime("%Y-%m-%d %H:%M"),
        doctors="、".join(recorders(visits)),
        closed=(
            local(last.closed_at).strftime("%Y-%m-%d %H:%M")
            + f" {closers.get(last.closed_by_id, '')}"
            if last is not None
            else ""
        ),
        sections=[
            DailySection(
                titles[n] if len(sections) > 1 else "",
                [row(entry, section.late) for entry in section.entries],
            )
            for n, section in enumerate(sections)
        ],
    )
    return send_document(
        Document(f"daily-{clinic.code}-{day}.pdf", "pdf", render_daily(doc), inline=True)
    )
