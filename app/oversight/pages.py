"""The public receipt check (社会监督), and the reviewer's view of the visits behind a flag.

Guarantees: no login; nothing identifying the patient is shown (no name, no ID
number); a voided receipt says so; the page and its one question are
throttled per address (Flask-Limiter), and an unknown code answers exactly
like a mistyped one, so codes cannot be harvested.  The reviewer's visit list
is for reviewers, finance and administrators of the clinic's area only, and
shows names and ID numbers masked.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.access import require_clinic_visible
from app.clock import clock
from app.errors import InvalidInput, NotFound
from app.extensions import limiter
from app.localtime import format_local, parse_month
from app.money import format_yuan, parse_yuan
from app.oversight.codes import grouped, normalise
from app.oversight.forms import CodeForm, FeedbackForm
from app.oversight.labels import describe, figure_label
from app.oversight.operations import record_feedback
from app.oversight.queries import clinic_month_visits, flags_by_clinic, public_receipt
from app.oversight.rules import Figure
from app.people.rules import mask_id_number
from app.places.queries import clinic_by_code
from app.visits.queries import masked_names
from app.web.access import role_required

bp = Blueprint("verify", __name__, template_folder="templates", url_prefix="/v")


def _limit() -> str:
    return str(current_app.config["VERIFY_LIMIT"])


@bp.route("", methods=["GET", "POST"])
@limiter.limit(_limit)
def enter() -> Response | str:
    form = CodeForm()
    if form.validate_on_submit():
        code = normalise(form.code.data or "")
        if code is not None:
            return redirect(url_for("verify.receipt", code=code))
        form.code.errors = [_("This is not a receipt code. Check the 12 characters.")]
    return render_template("oversight/enter.html", form=form)


def _answer_limit() -> str:
    return str(current_app.config["FEEDBACK_LIMIT"])


@bp.route("/<code>", methods=["GET", "POST"])
@limiter.limit(_limit)
# Answers, per address: enough for a family's receipts, not for a flood.
@limiter.limit(_answer_limit, methods=["POST"])
def receipt(code: str) -> Response | tuple[str, int] | str:
    stored = normalise(code)
    found = public_receipt(stored) if stored else None
    if found is None:
        form = CodeForm()
        form.code.errors = [_("No receipt has this code. Check the 12 characters.")]
        return render_template("oversight/enter.html", form=form), 404
    form = FeedbackForm()
    if form.validate_on_submit():
        asked_more = form.asked_more.data == "yes"
        said = parse_yuan(form.said_paid.data) if asked_more and form.said_paid.data else None
        most = parse_yuan(str(current_app.config["FEEDBACK_MAX_YUAN"]))
        try:
            record_feedback(found.code, asked_more, said, clock()(), most=most)
        except InvalidInput:
            form.said_paid.errors = [
                _("At most %(most)s yuan.", most=format_yuan(most)),
            ]
            return _receipt_page(found, form), 422
        flash(
            _("Thank you. The health bureau will look into it.")
            if asked_more
            else _("Thank you for checking."),
            "success",
        )
        return redirect(url_for("verify.receipt", code=found.code))
    return _receipt_page(found, form)


def _receipt_page(found: Any, form: FeedbackForm) -> str:
    return render_template(
        "oversight/receipt.html",
        receipt=found,
        form=form,
        code=grouped(found.code),
        yuan=format_yuan,
    )


# --- the reviewer's side: the visits behind a flag --------------------------------------

review_bp = Blueprint("oversight", __name__, template_folder="templates", url_prefix="/oversight")


@review_bp.route("/clinics/<clinic>/<month>/visits")
@role_required("reviewer", "finance", "admin")
def flagged_visits(clinic: str, month: str) -> str:
    """A clinic-month's visits, largest first by the flagged figure; names and IDs masked."""
    if parse_month(month) is None:
        abort(404)
    found = clinic_by_code(clinic, missing=NotFound)
    require_clinic_visible(current_user, found)
    figure = request.args.get("figure", "")
    chosen = Figure(figure) if figure in set(Figure) else None
    visits = clinic_month_visits(found.id, month, chosen)
    names = masked_names([v.resident_id for v in visits if v.resident_id])
    flags = flags_by_clinic([found.id], month).get(found.id, [])
    return render_template(
        "oversight/flagged_visits.html",
        clinic=found,
        month=month,
        figure=chosen,
        flags=[(f, describe(f)) for f in flags],
        visits=visits,
        names=names,
        mask_id=mask_id_number,
        yuan=format_yuan,
        local_time=format_local,
        figure_label=figure_label,
    )
