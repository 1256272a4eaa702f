"""The drug stock pages (进销存): a clinic's monthly statement, its files, and a count.

For the clinic's doctor, and for reviewers, finance and administrators of the
clinic's area; IDs masked in the lists of visits behind a flag.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.clock import clock
from app.errors import DomainError
from app.localtime import local_date, parse_month, parse_typed_day
from app.money import format_yuan
from app.people.rules import mask_id_number
from app.stock.exports import stock_pdf, stock_xlsx
from app.stock.forms import StockTakeForm
from app.stock.labels import flag_words
from app.stock.operations import record_stock_take
from app.stock.queries import stock_view, visits_by_id
from app.stock.rules import signed_quantity
from app.web.access import role_required
from app.web.downloads import Document, send_document

bp = Blueprint("stock", __name__, template_folder="templates", url_prefix="/stock")

ROLES = ("doctor", "reviewer", "finance", "admin")


def _month(month: str) -> str:
    if parse_month(month) is None:
        abort(404)
    return month


@bp.route("/<clinic>/<month>")
@role_required(*ROLES)
def statement(clinic: str, month: str) -> str:
    view = stock_view(clinic, _month(month), current_user)
    visits = visits_by_id([v for f in view.flags for v in f.visit_ids])
    return render_template(
        "stock/statement.html",
        view=view,
        flags=[(f, flag_words(f)) for f in view.flags],
        visits=visits,
        form=StockTakeForm(formdata=None),
        can_count=current_user.role == "doctor",
        today=local_date(clock()()).isoformat(),
        q=signed_quantity,
        yuan=format_yuan,
        mask_id=mask_id_number,
    )


@bp.route("/<clinic>/<month>.pdf")
@role_required(*ROLES)
def pdf(clinic: str, month: str) -> Response:
    view = stock_view(clinic, _month(month), current_user)
    body = stock_pdf(view, clock()())
    return send_document(
        Document(f"{view.clinic.code}-{view.month}-进销存.pdf", "pdf", body, inline=True)
    )


@bp.route("/<clinic>/<month>.xlsx")
@role_required(*ROLES)
def xlsx(clinic: str, month: str) -> Response:
    view = stock_view(clinic, _month(month), current_user)
    return send_document(
        Document(f"{view.clinic.code}-{view.month}-进销存.xlsx", "xlsx", stock_xlsx(view))
    )


@bp.route("/<clinic>/<month>/takes", methods=["POST"])
@role_required("doctor")
def take(clinic: str, month: str) -> Response:
    back = url_for(".statement", clinic=clinic, month=_month(month)) + "#count"
    form = StockTakeForm()
    if not form.validate_on_submit():
        flash(_("Fill in the item, the day and the quantity counted."), "error")
        return redirect(back)
    day = parse_typed_day(form.taken_on.data)
    if day is None:
        flash(_("Counted on: write it as 2026-11-29."), "error")
        return redirect(back)
    now = clock()()
    try:
        record_stock_take(
            clinic,
            (form.item.data or "").strip(),
            day,
            form.counted.data or "",
            current_user,
            now,
            local_date(now),
            form.note.data or "",
        )
    except DomainError as exc:
        flash(_("The count was not recorded: %(why)s", why=_problem_words(exc)), "error")
        return redirect(back)
    flash(_("Count recorded."), "success")
    return redirect(back)


def _problem_words(exc: DomainError) -> str:
    words = {
        "unknown_item": _("this is not a drug or material of the catalogue"),
        "future": _("the day is in the future"),
        "counted": _("this item was already counted on that day"),
        "scope": _("this is outside your clinic"),
    }
    return "；".join(
        words.get(p.code, _("check the quantity (a number, at most three decimals)"))
        for p in exc.problems
    )
