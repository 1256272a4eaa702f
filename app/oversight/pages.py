"""The public receipt check (社会监督): anyone holding a receipt can see what it billed.

Guarantees: no login; nothing identifying the patient is shown (no name, no ID
number); a voided receipt says so; the page and its one question are
throttled per address (Flask-Limiter), and an unknown code answers exactly
like a mistyped one, so codes cannot be harvested.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.clock import clock
from app.extensions import limiter
from app.money import format_yuan, parse_yuan
from app.oversight.codes import grouped, normalise
from app.oversight.forms import CodeForm, FeedbackForm
from app.oversight.operations import record_feedback
from app.oversight.queries import public_receipt

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


@bp.route("/<code>", methods=["GET", "POST"])
@limiter.limit(_limit)
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
        record_feedback(found.code, asked_more, said, clock()())
        flash(
            _("Thank you. The health bureau will look into it.")
            if asked_more
            else _("Thank you for checking."),
            "success",
        )
        return redirect(url_for("verify.receipt", code=found.code))
    return render_template(
        "oversight/receipt.html",
        receipt=found,
        form=form,
        code=grouped(found.code),
        yuan=format_yuan,
    )
