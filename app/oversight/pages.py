"""The public receipt check (社会监督), and the reviewer's view of the visits behind a flag.

Guarantees: no login; nothing identifying the patient is shown (no name, no ID
number); a voided receipt says so; the page and its one question are
throttled per address (Flask-Limiter), and an unknown code answers exactly
like a mistyped one, so codes cannot be harvested.  The reviewer's visit list
is for reviewers, finance and administrators of the clinic's area only, and
shows names and ID numbers masked.
"""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.access import require_clinic_visible
from app.checks.codes import grouped, normalise
from app.checks.labels import behind_label, describe, figure_label, flag_label, flag_url
from app.checks.rules import (
    DIAGNOSIS_FIGURES,
    STOCK_FIGURES,
    Figure,
    next_month_start,
)
from app.clock import clock
from app.errors import InvalidInput, NotFound
from app.extensions import limiter
from app.localtime import format_local, parse_month
from app.money import format_money, format_quantity, format_yuan, parse_yuan
from app.oversight.forms import CodeForm, FeedbackForm, NotMeForm, OwnVisitsForm
from app.oversight.operations import (
    check_id_tail,
    disown_visit,
    read_own_visits,
    record_feedback,
)
from app.oversight.queries import (
    PublicReceipt,
    clinic_month_visits,
    complaints,
    flags_by_clinic,
    oversight_policy_for,
    public_receipt,
)
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
            return _receipt_page(found, form, OwnVisitsForm(formdata=None), 422)
        flash(
            _("Thank you. The health bureau will look into it.")
            if asked_more
            else _("Thank you for checking."),
            "success",
        )
        return redirect(url_for("verify.receipt", code=found.code))
    return _receipt_page(found, form, OwnVisitsForm(formdata=None))


def _receipt_page(
    found: PublicReceipt, form: FeedbackForm, own: OwnVisitsForm, status: int = 200
) -> tuple[str, int]:
    page = render_template(
        "oversight/receipt.html",
        receipt=found,
        form=form,
        own=own,
        code=grouped(found.code),
        yuan=format_yuan,
    )
    return page, status


# --- a resident's own visits (issue 26 §2) ------------------------------------------------

_OWN = "own_visits"  # the session key: which receipt unlocked them, and until when


def _own_limit() -> str:
    return str(current_app.config["OWN_VISITS_LIMIT"])


def _own_receipt_limit() -> str:
    return str(current_app.config["OWN_VISITS_RECEIPT_LIMIT"])


def _receipt_key() -> str:
    """The throttle's key for the receipt being tried, however its code was typed."""
    typed = (request.view_args or {}).get("code", "")
    return f"own-visits:{normalise(str(typed)) or typed}"


def _unlocked(code: str) -> bool:
    held = session.get(_OWN)
    if not isinstance(held, dict) or held.get("code") != code:
        return False
    until = dt.datetime.fromisoformat(str(held.get("until")))
    return clock()() < until


@bp.route("/<code>/mine", methods=["POST"])
# Counters shared with the own-visits API (app.oversight.api): one budget, two doors.
@limiter.shared_limit(_own_limit, "own_visits_address")
@limiter.shared_limit(_own_receipt_limit, "own_visits_receipt", key_func=_receipt_key)
def unlock_own_visits(code: str) -> Response | tuple[str, int]:
    """The receipt's code and the last six characters of the patient's ID number."""
    stored = normalise(code)
    found = public_receipt(stored) if stored else None
    if found is None:
        abort(404)
    own = OwnVisitsForm()
    if own.validate_on_submit():
        now = clock()()
        matched = check_id_tail(found.code, own.id_tail.data or "", now)
        if matched is None:
            abort(404)
        if matched:
            minutes = int(current_app.config["OWN_VISITS_MINUTES"])
            session[_OWN] = {
                "code": found.code,
                "until": (now + dt.timedelta(minutes=minutes)).isoformat(),
            }
            return redirect(url_for("verify.own_visits_page", code=found.code))
        own.id_tail.errors = [_("These are not the last six characters of the ID number.")]
    return _receipt_page(found, FeedbackForm(formdata=None), own, 422)


@bp.route("/<code>/mine")
@limiter.limit(_limit)
def own_visits_page(code: str) -> Response | str:
    """His unvoided visits of the last twelve months, at any clinic; each look-up logged."""
    stored = normalise(code)
    if not stored or not _unlocked(stored):
        return redirect(url_for("verify.receipt", code=code))
    mine = read_own_visits(stored, clock()())
    if mine is None:
        abort(404)
    return render_template(
        "oversight/own_visits.html",
        mine=mine,
        code=grouped(stored),
        yuan=format_yuan,
        quantity=format_quantity,
    )


@bp.route("/<code>/mine/<int:visit_id>/not-me", methods=["POST"])
@limiter.limit(_limit)
def not_me(code: str, visit_id: int) -> Response:
    """ "我没有在这天看病" on one of the visits the look-up showed."""
    stored = normalise(code)
    if not stored or not _unlocked(stored):
        return redirect(url_for("verify.receipt", code=code))
    if not NotMeForm().validate_on_submit():
        abort(400)
    try:
        disown_visit(stored, visit_id, clock()())
    except NotFound:
        abort(404)
    flash(_("Thank you. The health bureau will look into this visit."), "success")
    return redirect(url_for("verify.own_visits_page", code=stored) + f"#visit-{visit_id}")


# --- the reviewer's side: the visits behind a flag --------------------------------------


def diagnosis_heading(figure: Figure, diagnosis: str | None) -> str:
    """A figure's heading when no stored flag names it (the code, for a diagnosis)."""
    return f"{diagnosis} {figure_label(figure)}" if diagnosis else figure_label(figure)


review_bp = Blueprint("oversight", __name__, template_folder="templates", url_prefix="/oversight")


@review_bp.route("/clinics/<clinic>/<month>/visits")
@role_required("reviewer", "finance", "admin")
def flagged_visits(clinic: str, month: str) -> Response | str:
    """A clinic-month's visits, largest first by the flagged figure; names and IDs masked."""
    if parse_month(month) is None:
        abort(404)
    found = clinic_by_code(clinic, missing=NotFound)
    require_clinic_visible(current_user, found)
    flags = flags_by_clinic([found.id], month).get(found.id, [])
    figure = request.args.get("figure", "")
    # A diagnosis-mix flag is one of a figure and a diagnosis code (issue 19 §5).
    diagnosis = request.args.get("diagnosis") or None
    # Without a figure: the strongest flag's visits (a flag opens the visits behind it).
    chosen = Figure(figure) if figure in set(Figure) else (flags[0].figure if flags else None)
    if not figure and flags:
        diagnosis = flags[0].diagnosis
    if chosen in DIAGNOSIS_FIGURES and not diagnosis:
        abort(404)
    if chosen in STOCK_FIGURES:  # the stock statement lists the visits behind those
        return redirect(
            url_for("stock.statement", clinic=found.code, month=month)
        )  # a share or prevalence of no diagnosis has no visits behind it
    flag = next((f for f in flags if f.figure == chosen and f.diagnosis == diagnosis), None)
    settings = oversight_policy_for(found.district_code, next_month_start(month))
    visits = clinic_month_visits(
        found.id,
        month,
        chosen,
        median=flag.median if flag else None,
        late_entry_hours=settings.policy.late_entry_hours,
        diagnosis=diagnosis,
    )
    names = masked_names([v.resident_id for v in visits if v.resident_id])
    return render_template(
        "oversight/flagged_visits.html",
        clinic=found,
        month=month,
        figure=chosen,
        diagnosis=diagnosis,
        flags=[(f, describe(f)) for f in flags],
        flag=flag,
        heading=(flag_label(flag) if flag else diagnosis_heading(chosen, diagnosis))
        if chosen
        else "",
        behind=behind_label(chosen) if chosen else "",
        complaints=complaints([v.id for v in visits]) if chosen is Figure.COMPLAINT_SHARE else {},
        visits=visits,
        names=names,
        mask_id=mask_id_number,
        yuan=format_money,
        local_time=format_local,
        figure_label=figure_label,
        flag_url=flag_url,
    )
