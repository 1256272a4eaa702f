"""The reconciliation pages: the report for a district-month, the upload, the downloads.

Finance uploads the fund's settlement detail; finance, reviewers and the
administrator read the report of their district.  The upload is the same
operation as ``flask reconcile import`` (all or nothing); a rejected file
shows every ``FILE:LINE`` problem and imports nothing.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth.models import User
from app.clock import clock
from app.errors import DomainError
from app.extensions import csrf, db
from app.localtime import local_date, parse_month, parse_typed_day, parse_typed_month
from app.money import format_yuan
from app.places.models import District
from app.reconcile import documents
from app.reconcile.files import SettlementFileRejected
from app.reconcile.forms import SettlementUploadForm
from app.reconcile.operations import (
    ReconcileResult,
    import_settlement_file,
    set_difference_status,
)
from app.reconcile.queries import daily_differences, reconciliation
from app.settlement.adjustments import outcome_label, reason_label
from app.web.access import role_required
from app.web.downloads import Kind, send_document

bp = Blueprint("reconcile", __name__, template_folder="templates", url_prefix="/reconcile")

READERS = ("finance", "reviewer", "admin")


def _district(user: User) -> District:
    code = user.district_code
    if user.role == "admin":
        code = request.args.get("district") or db.session.scalar(
            select(District.code).order_by(District.code)
        )
    district = db.session.get(District, code or "")
    if district is None:
        abort(404)
    return district


def _month(now: dt.datetime) -> str:
    month, _typed, _error = _month_choice(now)
    return month


def _month_choice(now: dt.datetime) -> tuple[str, str, str | None]:
    """The month asked for, what was typed, and the error naming the box if it is no month.

    A text box, not the browser's month picker: ``2026-10``, ``2026/10`` and
    ``202610`` are October 2026; anything else keeps last month on screen and
    the typed text in the box, with the reason beside it.
    """
    first = local_date(now).replace(day=1)
    settling = f"{first - dt.timedelta(days=1):%Y-%m}"  # last month: the one being settled
    typed = request.args.get("month", "").strip()[:20]
    if not typed:
        return settling, "", None
    month = parse_typed_month(typed)
    if month is None:
        return settling, typed, _("Month: enter a month as 2026-10.")
    return month, month, None


@bp.route("")
@role_required(*READERS)
def report() -> tuple[str, int]:
    user: User = current_user
    now = clock()()
    district = _district(user)
    month, typed, error = _month_choice(now)
    form = SettlementUploadForm(month=month)
    page = _render(district, month, form, problems=[], month_typed=typed, month_error=error)
    return page, (422 if error else 200)


def _render(
    district: District,
    month: str,
    form: SettlementUploadForm,
    problems: list[str],
    month_typed: str = "",
    month_error: str | None = None,
    preview: ReconcileResult | None = None,
) -> str:
    return render_template(
        "reconcile/report.html",
        district=district,
        month=month,
        month_typed=month_typed,
        month_error=month_error,
        report=reconciliation(district.code, month, current_user.town_code),
        form=form,
        problems=problems,
        preview=preview,
        can_upload=current_user.role == "finance",
        outcome_label=outcome_label,
        reason_label=reason_label,
        yuan=format_yuan,
    )


def _raise_upload_limit() -> None:
    """A district-month of settlements is far bigger than any other request body.

    The limit must be raised before anything reads the body: the app-wide
    CSRF check (a ``before_request`` hook) parses the form, and with it the
    file, under ``MAX_CONTENT_LENGTH`` (2 MB), long before the view runs.  So
    the upload is exempt from that hook and checks the token itself, after
    raising the limit (the form checks it again).
    """
    request.max_content_length = current_app.config["MAX_UPLOAD_LENGTH"]
    csrf.protect()


@bp.route("/upload", methods=["POST"])
@csrf.exempt
@role_required("finance")
def upload() -> Response | str | tuple[str, int]:
    _raise_upload_limit()
    user: User = current_user
    district = _district(user)
    form = SettlementUploadForm()
    if not form.validate_on_submit():
        month = form.month.data if parse_month(form.month.data or "") else _month(clock()())
        return _render(district, month, form, problems=[]), 422
    month = form.month.data or ""
    upload = form.file.data
    preview = bool(form.preview.data)
    try:
        result = import_settlement_file(
            upload.stream,  # spooled to disk when large: read as a stream, never whole
            upload.filename or "upload",
            district.code,
            month,
            user,
            clock()(),
            preview=preview,
        )
    except SettlementFileRejected as exc:
        return _render(district, month, form, problems=exc.lines()), 422
    except DomainError as exc:
        return _render(district, month, form, problems=[exc.message]), exc.status
    if preview and not result.already_imported:
        return _render(district, month, form, problems=[], preview=result)
    if result.already_imported:
        flash(_("This file was already imported; nothing changed."), "info")
    else:
        flash(
            _(
                "Imported %(rows)d settlements; %(count)d adjustments change the backstop "
                "by %(amount)s yuan.",
                rows=result.rows,
                count=result.adjustments,
                amount=format_yuan(result.adjustment_total),
            ),
            "success",
        )
    return redirect(url_for("reconcile.report", month=month))


@bp.route("/<month>.<any(pdf, xlsx):kind>")
@role_required(*READERS)
def report_file(month: str, kind: str) -> Response:
    if parse_month(month) is None:
        abort(404)
    user: User = current_user
    district = _district(user)
    data = reconciliation(district.code, month, user.town_code)
    file_kind: Kind = "pdf" if kind == "pdf" else "xlsx"
    return send_document(documents.reconciliation_file(data, district, file_kind, clock()()))


# --- the daily check's differences (issue 21) ------------------------------------------

KIND_LABELS = {
    "platform_only": _l("The platform has it, we do not"),
    "clinic_only": _l("We have it, the platform does not"),
    "amount": _l("Amounts differ"),
    "refund_flag": _l("Refund flag differs"),
}
STATUS_LABELS = {
    "pending": _l("Pending"),
    "checked": _l("Checked"),
    "resolved": _l("Resolved"),
}


def _day(now: dt.datetime) -> tuple[dt.date, str | None]:
    typed = request.args.get("day", "").strip()[:20]
    yesterday = local_date(now) - dt.timedelta(days=1)
    if not typed:
        return yesterday, None
    day = parse_typed_day(typed)
    if day is None:
        return yesterday, _("Day: enter a day as 2026-10-15.")
    return day, None


@bp.route("/daily")
@role_required(*READERS)
def daily() -> tuple[str, int]:
    user: User = current_user
    district = _district(user)
    day, error = _day(clock()())
    rows = daily_differences(district.code, day, user.town_code)
    page = render_template(
        "reconcile/daily.html",
        district=district,
        day=day,
        day_error=error,
        rows=rows,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
        can_change=user.role == "finance",
        yuan=format_yuan,
    )
    return page, (422 if error else 200)


@bp.route("/daily/<int:difference_id>", methods=["POST"])
@role_required("finance")
def daily_status(difference_id: int) -> Response:
    user: User = current_user
    day = request.form.get("day", "")
    try:
        set_difference_status(
            difference_id,
            request.form.get("status", ""),
            request.form.get("reason", ""),
            user,
            clock()(),
        )
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for("reconcile.daily", day=day))
