"""Settlement pages: the doctor's months, the reviewer's board, the finance summary.

Thin: every view reads a query or calls one operation with the logged-in user
and the app's clock; a refused operation comes back as a flashed message on
the page it was started from.  No script is needed on any page (old clinic
PCs): sorting is done by the server, the charts are inline SVG.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from app.auth.models import User
from app.checks.labels import describe, flag_url, why_label
from app.checks.rules import Rule
from app.checks.words import RULE_NAMES, check_message, decision_words
from app.clock import clock
from app.errors import DomainError, InvalidInput, Problem, ProblemCode
from app.extensions import db
from app.insurance.queries import counts_by_clinic, unsettled_blocking
from app.localtime import format_local, local_date, month_of, parse_typed_month
from app.money import format_money, format_quantity
from app.oversight.queries import (
    complaints,
    flags_by_clinic,
    system_reviewed,
    system_submitted,
    worklist,
)
from app.people.rules import mask_id_number
from app.places.models import Clinic, District, Town, Village
from app.settlement import documents
from app.settlement.adjustments import reason_label, source_label
from app.settlement.chart import Bar, bar_chart, column_chart
from app.settlement.figures import FIGURE_FIELDS, Figures
from app.settlement.forms import (
    BatchPaymentForm,
    FindingForm,
    PaymentForm,
    ReasonForm,
    SubmitForm,
    SummaryQueryForm,
    loaded,
)
from app.settlement.labels import FIGURE_LABELS, action_label, status_label
from app.settlement.operations import (
    BatchPayment,
    pay_reviewed_statements,
    pay_statement,
    pull_back_statement,
    record_finding,
    return_statement,
    review_statement,
    submit_statement,
)
from app.settlement.queries import (
    clinic_months,
    clinic_visit_detail,
    district_summary,
    district_visit_detail,
    paid_by_month,
    previous_months,
    statement_row,
    statement_view,
)
from app.settlement.rules import Payment, Status, allowed_actions, first_day_after
from app.web.access import role_required
from app.web.downloads import KINDS, Kind, send_document
from app.web.messages import problem_words

bp = Blueprint(
    "settlement",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/settlement",
)

F = TypeVar("F", bound=Callable[..., Any])

SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "clinic": lambda line: line.clinic.code,
    "name": lambda line: line.clinic.name,
    "town": lambda line: line.clinic.village.town.name,
    "status": lambda line: list(Status).index(Status(line.status)),
    "visits": lambda line: line.figures.visits,
    "programme_visits": lambda line: line.figures.programme_visits,
    "total": lambda line: line.figures.total,
    "fund": lambda line: line.figures.fund,
    "fiscal": lambda line: line.figures.fiscal,
    "paid": lambda line: line.paid.amount if line.paid else -1,
}


def _user() -> User:
    user: User = current_user
    return user


def _now() -> dt.datetime:
    return clock()()


def money(fen: int | None) -> str:
    return "" if fen is None else format_money(fen)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "money": money,
        "status_label": status_label,
        "action_label": action_label,
        "figure_labels": FIGURE_LABELS,
        "figure_fields": FIGURE_FIELDS,
        "quantity": format_quantity,
        "local_time": format_local,
        "source_label": source_label,
        "reason_label": reason_label,
        "history_reason": decision_words,
    }


def settling_month(now: dt.datetime) -> str:
    """The month being settled: the one before the current Asia/Shanghai month."""
    first = local_date(now).replace(day=1)
    return month_of(dt.datetime.combine(first - dt.timedelta(days=1), dt.time(12), dt.UTC))


def _query() -> SummaryQueryForm:
    form = SummaryQueryForm(request.args)
    form.validate()  # a malformed month is refused by the query, naming ``month``
    return form


def _month_choice(default: str) -> tuple[str, str, str | None]:
    """The month asked for, what was typed, and the error naming the field if it is no month.

    The month box is a text box (no browser month picker, which speaks the PC's
    language): ``2026-11``, ``2026/11`` and ``202611`` all mean November 2026.
    What is not a month keeps the default month on screen, the typed text in
    the box and a message beside it.
    """
    typed = (request.args.get("month") or "").strip()[:20]
    if not typed:
        return default, "", None
    month = parse_typed_month(typed)
    if month is None:
        return default, typed, problem_words(Problem("month", "not a month", ProblemCode.BAD_MONTH))
    return month, month, None


def _district_arg(user: User) -> str:
    return _query().district.data or _district_or_first(user)


def _error_text(exc: DomainError) -> str:
    """The refusal in the page's language, chosen by the problem's code."""
    problem = exc.problems[0]
    args = request.view_args or {}
    params = {"month": args.get("month", "")}
    if problem.code is ProblemCode.ILLEGAL_TRANSITION and "clinic" in args:
        params["status"] = status_label(
            statement_view(args["clinic"], args["month"], _user()).status
        )
    if problem.code is ProblemCode.MONTH_NOT_ENDED:
        params["date"] = first_day_after(params["month"]).isoformat()
    return problem_words(problem, **params)


def _run(action: Callable[[], Any], success: str, back: str) -> BaseResponse:
    """Run one operation; flash the outcome and go back to ``back``."""
    try:
        action()
    except DomainError as exc:
        if exc.status == 403:
            raise
        flash(_error_text(exc), "error")
    else:
        flash(success, "ok")
    return redirect(back)


# --- doctor ----------------------------------------------------------------------


@bp.route("/statements")
@role_required("doctor")
def months() -> str:
    user = _user()
    clinic = user.clinic
    assert clinic is not None
    now = _now()
    current = month_of(now)
    # The running month, the month being settled, and every month with a statement
    # (any month with a visit has one): not a wall of empty months to submit.
    lines = clinic_months(clinic, previous_months(current, 2))
    running = statement_view(clinic.code, current, user)
    return render_template(
        "settlement/months.html",
        auto_submitted=system_submitted(clinic.id),
        clinic=clinic,
        lines=lines,
        current=current,
        running=running,
        submit_from=first_day_after(current),
        settling=settling_month(now),
        today=local_date(now),
    )


@bp.route("/statements/<clinic>/<month>/submit", methods=["GET", "POST"])
@role_required("doctor")
def submit(clinic: str, month: str) -> Any:
    user = _user()
    view = statement_view(clinic, month, user)
    back = url_for(".statement", clinic=clinic, month=month)
    if request.method == "POST":
        try:
            form = loaded(SubmitForm())
        except InvalidInput:
            abort(400)
        expected = Figures(**{n: form[n].data for n in FIGURE_FIELDS})
        return _run(
            lambda: submit_statement(clinic, month, user, _now(), expected),
            _("%(month)s submitted. The month is now closed for changes.", month=month),
            back,
        )
    return render_template("settlement/confirm_submit.html", view=view)


# --- shared: one clinic's month ------------------------------------------------------


@bp.route("/statements/<clinic>/<month>")
@role_required("doctor", "reviewer", "finance", "admin")
def statement(clinic: str, month: str) -> str:
    user = _user()
    view = statement_view(clinic, month, user)
    now = _now()
    actions = [a.value for a in allowed_actions(view.status, user.role)]
    auto = system_submitted(view.clinic.id).get(month) if view.status == "submitted" else None
    if "pull_back" in actions and auto is None:
        actions.remove("pull_back")
    row = statement_row(view.clinic.id, month)
    items = worklist(row.id) if row is not None else []
    return render_template(
        "settlement/statement.html",
        view=view,
        actions=actions,
        auto_submitted=auto,
        worklist=items,
        complaints=complaints([i.visit_id for i in items]),
        why_label=why_label,
        masked_id=mask_id_number,
        can_find=user.role == "reviewer" and view.status == "submitted",
        month_ended=local_date(now) >= first_day_after(month),
        today=local_date(now),
        kept=_typed_payment(clinic, month) if "pay" in actions else None,
        pending_settlement=unsettled_blocking(view.clinic.id, month),
        submit_from=first_day_after(month),
        rule_name=lambda rule: RULE_NAMES[Rule(rule)],
        check_message=check_message,
        visit_item_names=lambda visit: {line.item_code: line.item_name for line in visit.lines},
    )


@bp.route("/statements/<clinic>/<month>/review", methods=["POST"])
@role_required("reviewer")
def review(clinic: str, month: str) -> BaseResponse:
    form = ReasonForm()
    return _run(
        lambda: review_statement(clinic, month, _user(), _now(), loaded(form).reason.data),
        _("%(clinic)s %(month)s reviewed.", clinic=clinic, month=month),
        _back_to_board(clinic, month),
    )


@bp.route("/statements/<clinic>/<month>/findings/<int:visit_id>", methods=["POST"])
@role_required("reviewer")
def finding(clinic: str, month: str, visit_id: int) -> BaseResponse:
    form = FindingForm()

    def record() -> None:
        loaded(form)
        verdict = form.finding.data
        amount = form.amount.data if verdict == "disallowed" else None
        record_finding(clinic, month, visit_id, verdict, _user(), _now(), form.reason.data, amount)

    return _run(
        record,
        _("Finding recorded."),
        url_for(".statement", clinic=clinic, month=month) + "#worklist",
    )


@bp.route("/statements/<clinic>/<month>/pull-back", methods=["POST"])
@role_required("doctor")
def pull_back(clinic: str, month: str) -> BaseResponse:
    return _run(
        lambda: pull_back_statement(clinic, month, _user(), _now()),
        _("%(month)s is open again; confirm it when it is right.", month=month),
        url_for(".months"),
    )


@bp.route("/statements/<clinic>/<month>/return", methods=["POST"])
@role_required("reviewer")
def return_(clinic: str, month: str) -> BaseResponse:
    form = ReasonForm()
    return _run(
        lambda: return_statement(clinic, month, loaded(form).reason.data, _user(), _now()),
        _("%(clinic)s %(month)s returned to the clinic.", clinic=clinic, month=month),
        _back_to_board(clinic, month),
    )


@bp.route("/statements/<clinic>/<month>/pay", methods=["POST"])
@role_required("finance")
def pay(clinic: str, month: str) -> BaseResponse:
    form = PaymentForm()

    def record() -> None:
        loaded(form)
        payment = Payment(form.paid_on.data, form.reference.data, form.amount.data)
        pay_statement(clinic, month, payment, _user(), _now())

    back = form.back.data == "finance"
    where = (
        url_for(".finance", month=month)
        if back
        else url_for(".statement", clinic=clinic, month=month)
    )
    try:
        record()
    except DomainError as exc:
        if exc.status == 403:
            raise
        # The error names the clinic (finance pays many on one page) and the
        # typed values come back into that clinic's form, not the defaults.
        flash(f"{_clinic_title(clinic)}：{_error_text(exc)}", "error")
        _keep_typed_payment(clinic, month)
        return redirect(where)
    flash(_("Payment to %(clinic)s for %(month)s recorded.", clinic=clinic, month=month), "ok")
    return redirect(where)


def _clinic_title(code: str) -> str:
    """``HD001 大涡村卫生站``: how finance's page names a clinic (the code alone if unknown)."""
    name = db.session.scalar(select(Clinic.name).where(Clinic.code == code))
    return f"{code} {name}" if name else code


# The values of a refused payment, shown once in the form they were typed in.
PENDING_PAYMENT = "settlement.pending_payment"
ALL_CLINICS = "*"  # the pending values of a refused "pay all"


def _keep_typed_payment(clinic: str, month: str) -> None:
    session[PENDING_PAYMENT] = {
        "clinic": clinic,
        "month": month,
        "paid_on": request.form.get("paid_on", "")[:20],
        "reference": request.form.get("reference", "")[:60],
        "amount": request.form.get("amount", "")[:20],
    }


def _typed_payment(clinic: str, month: str) -> dict[str, str] | None:
    """The values of this form's refused payment, once; None if they were for another form."""
    pending: dict[str, str] | None = session.get(PENDING_PAYMENT)
    if pending and pending.get("clinic") == clinic and pending.get("month") == month:
        return session.pop(PENDING_PAYMENT)
    return None


def _back_to_board(clinic: str, month: str) -> str:
    if ReasonForm().back.data == "board":
        return url_for(".board", month=month)
    return url_for(".statement", clinic=clinic, month=month)


@bp.route("/statements/<clinic>/<month>.<ext>")
@role_required("doctor", "reviewer", "finance", "admin")
def download(clinic: str, month: str, ext: str) -> Response:
    kind = _kind(ext)
    view = statement_view(clinic, month, _user())
    return send_document(documents.statement_file(view, kind, _now()))


@bp.route("/statements/<clinic>/<month>/visits.csv")
@role_required("doctor", "reviewer", "finance", "admin")
def visits_download(clinic: str, month: str) -> Response:
    """The clinic's month visit by visit: the lines its statement sums."""
    return send_document(documents.visits_file(clinic_visit_detail(clinic, month, _user())))


def _kind(ext: str) -> Kind:
    for kind in KINDS:
        if ext == kind:
            return kind
    abort(404)


# --- reviewer --------------------------------------------------------------------------


def _district(user: User) -> str:
    if not user.district_code:
        abort(403, _("Your account has no district."))
    return user.district_code


@bp.route("/board")
@role_required("reviewer", "finance", "admin")
def board() -> Any:
    user = _user()
    now = _now()
    month, typed, month_error = _month_choice(settling_month(now))
    summary = district_summary(_district_arg(user), month, user)
    query = _query()
    sort = query.sort.data if query.sort.data in SORT_KEYS else "clinic"
    descending = query.dir.data == "desc"
    lines = sorted(summary.lines, key=SORT_KEYS[sort], reverse=descending)
    # Flagged clinics first (issue 11 §2), strongest flag first; the rest as sorted.
    flags = flags_by_clinic([line.clinic.id for line in lines], month)
    strongest = {cid: max(abs(f.score) for f in fs) for cid, fs in flags.items()}
    line_codes = {line.clinic.id: line.clinic.code for line in lines}
    lines.sort(key=lambda line: -strongest.get(line.clinic.id, 0))
    return render_template(
        "settlement/board.html",
        summary=summary,
        lines=lines,
        flags={
            cid: [
                (flag_url(line_codes[cid], month, f.figure, f.diagnosis), describe(f)) for f in fs
            ]
            for cid, fs in flags.items()
        },
        insurance=counts_by_clinic([line.clinic.id for line in lines], month),
        month=month,
        month_typed=typed,
        month_error=month_error,
        sort=sort,
        descending=descending,
        can_review=user.role == "reviewer",
        district_choices=_district_choices(user),
    ), (422 if month_error else 200)


def _district_or_first(user: User) -> str:
    """The user's district; an admin (who has none) starts on the first one with clinics."""
    if user.role == "admin":
        choices = _district_choices(user)
        if not choices:
            abort(404)
        return choices[0][0]
    return _district(user)


def _district_choices(user: User) -> list[tuple[str, str]]:
    """The districts an admin can switch between, those with clinics first, by code."""
    if user.role != "admin":
        return []
    with_clinics = set(
        db.session.scalars(
            select(Town.district_code)
            .join(Village, Village.town_code == Town.code)
            .join(Clinic, Clinic.village_code == Village.code)
            .distinct()
        )
    )
    districts = db.session.execute(select(District.code, District.name).order_by(District.code))
    return sorted(
        ((code, name) for code, name in districts), key=lambda d: (d[0] not in with_clinics, d[0])
    )


# --- finance ---------------------------------------------------------------------------


@bp.route("/finance")
@role_required("finance", "admin")
def finance() -> Any:
    user = _user()
    now = _now()
    month, typed, month_error = _month_choice(settling_month(now))
    district = _district_arg(user)
    summary = district_summary(district, month, user)
    months = previous_months(month, 12)
    paid = paid_by_month(district, months, user.town_code)
    monthly_chart = column_chart(
        [Bar(m[2:], paid[m]) for m in months],
        _("Backstop paid per month (yuan)"),
    )
    clinic_chart = bar_chart(
        [
            Bar(
                f"{line.clinic.code} {line.clinic.name}",
                line.paid.amount if line.paid else 0,
                line.figures.fiscal,
            )
            for line in summary.lines
        ],
        _("%(month)s: paid (dark) and due (light) per clinic (yuan)", month=month),
    )
    return render_template(
        "settlement/finance.html",
        summary=summary,
        month=month,
        month_typed=typed,
        month_error=month_error,
        today=local_date(now),
        monthly_chart=monthly_chart,
        clinic_chart=clinic_chart,
        can_pay=user.role == "finance",
        pending=session.pop(PENDING_PAYMENT, None),
        district_choices=_district_choices(user),
    ), (422 if month_error else 200)


@bp.route("/finance/<month>/pay-all", methods=["GET", "POST"])
@role_required("finance")
def pay_all(month: str) -> Any:
    user = _user()
    district = _district(user)
    summary = district_summary(district, month, user)
    if request.method == "POST":
        form = BatchPaymentForm()

        def record() -> None:
            loaded(form)
            batch = BatchPayment(
                form.paid_on.data, form.reference.data, form.count.data, form.amount.data
            )
            pay_reviewed_statements(district, month, batch, user, _now())

        try:
            record()
        except DomainError as exc:
            if exc.status == 403:
                raise
            flash(_error_text(exc), "error")
            _keep_typed_payment(ALL_CLINICS, month)
            return redirect(url_for(".pay_all", month=month))
        flash(_("Payments for %(month)s recorded.", month=month), "ok")
        return redirect(url_for(".finance", month=month))
    return render_template(
        "settlement/confirm_pay_all.html",
        summary=summary,
        by_system=system_reviewed(district, month, user.town_code),
        month=month,
        today=local_date(_now()),
        kept=_typed_payment(ALL_CLINICS, month),
    )


@bp.route("/finance/<month>.<ext>")
@role_required("finance", "reviewer", "admin")
def summary_download(month: str, ext: str) -> Response:
    kind = _kind(ext)
    user = _user()
    summary = district_summary(_district_arg(user), month, user)
    return send_document(documents.summary_file(summary, kind, _now()))


@bp.route("/finance/<month>/visits.csv")
@role_required("finance", "reviewer", "admin")
def summary_visits_download(month: str) -> Response:
    """The summary's month visit by visit, for checking against the fund's settlement detail."""
    user = _user()
    return send_document(
        documents.visits_file(district_visit_detail(_district_arg(user), month, user))
    )
