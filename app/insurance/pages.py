"""The web side of settlement: settle after recording, and the pending board (医保待结算).

:func:`settle_after_recording` and :func:`reverse_after_void` are what the
visits' API and pages call once their own unit of work has committed; they
read the gateway from the settings (none configured: they do nothing, the
system works the monthly-file way exactly as before).  The board lists every
pending or failed settlement in the user's scope, and why, with a button to
retry now.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.auth.access import can_see_clinic
from app.auth.models import User
from app.clock import clock
from app.errors import DomainError
from app.extensions import db
from app.insurance.client import Gateway, gateway_from_config
from app.insurance.models import InsuranceSettlement
from app.insurance.operations import (
    Attempt,
    SettledVisit,
    decide_at_expected,
    retry_now,
    reverse_visit_settlement,
    settle_recorded_visit,
)
from app.insurance.queries import pre_settlement_differences, unsettled
from app.insurance.rules import parse_failure, visit_claim
from app.money import format_yuan
from app.places.models import Clinic
from app.places.queries import clinic_by_code
from app.web.access import role_required

bp = Blueprint("insurance", __name__, template_folder="templates")

STATUS_WORDS = {
    "pending": _l("Pending settlement (医保待结算)"),
    "settled": _l("Settled with the insurance platform"),
    "failed": _l("Settlement failed: needs a person"),
    "reversed": _l("Settlement reversed"),
}

WHY_WORDS = {
    "insurance_lapsed": _l("The platform finds no insurance in force on the visit day"),
    "price_ceiling": _l("An item is above the platform's price ceiling"),
    "self_pay_item": _l("The platform counts an item as fully self-paid"),
    "selfpay_ratio": _l("The platform applies a different self-pay ratio to an item"),
    "cap_or_fund_ratio": _l("The platform applied a different fund ratio or annual cap"),
}


# The platform's transactions as a user reads them (a failure names the one that stopped).
TRANSACTION_WORDS = {
    "9001": _l("sign-in 9001"),
    "1101": _l("person information 1101"),
    "2201": _l("registration 2201"),
    "2202": _l("undoing the registration 2202"),
    "2203": _l("visit information 2203"),
    "2204": _l("fee detail 2204"),
    "2205": _l("undoing the fee detail 2205"),
    "2206": _l("pre-settlement 2206"),
    "2207": _l("settlement 2207"),
    "2208": _l("reversing the settlement 2208"),
    "2601": _l("reversal of an unanswered call 2601"),
}


def _transaction(infno: str) -> str:
    return str(TRANSACTION_WORDS.get(infno, infno))


def failure_words(stored: str) -> str:
    """A settlement's ``last_error`` (rules.Failure) in the user's words.

    A refusal keeps the platform's own ``err_msg`` verbatim after the words;
    the technical cause of a network failure stays in the stored exchanges.
    """
    failure = parse_failure(stored)
    if failure is None:
        return ""
    if failure.kind == "refused":
        text = _("Refused by the insurance platform (%(transaction)s, code %(infcode)s): "
                 "%(err_msg)s", transaction=_transaction(failure.infno),
                 infcode=failure.infcode, err_msg=failure.detail)  # fmt: skip
    elif failure.kind == "unreversed":
        text = _("The insurance platform refused to reverse an unanswered %(transaction)s "
                 "(code %(infcode)s): %(err_msg)s", transaction=_transaction(failure.infno),
                 infcode=failure.infcode, err_msg=failure.detail)  # fmt: skip
    elif failure.kind == "unreachable":
        text = _("The insurance platform could not be reached")
    elif failure.kind == "unknown":
        text = _("No answer from the insurance platform in time: the call is reversed "
                 "before the next attempt")  # fmt: skip
    elif failure.kind == "bad_answer":
        text = _("The insurance platform's answer could not be read")
    else:
        text = _("Not settled: %(detail)s", detail=failure.detail)
    if failure.reversal:
        return _("Reversing the settlement of a voided visit: %(reason)s", reason=text)
    return text


def pre_settlement_words(row: InsuranceSettlement) -> list[str]:
    """A pending visit whose pre-settlement (2206) answered: its fund against the expected one."""
    if row.pre_fund is None or row.status not in ("pending", "failed"):
        return []
    lead = _("The platform's pre-settlement: fund %(fund)s (expected %(expected)s)",
             fund=format_yuan(row.pre_fund), expected=format_yuan(row.expected_fund))  # fmt: skip
    return [lead, *why_words(list(pre_settlement_differences(row)))]


def status_words(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))


def why_words(codes: list[str]) -> list[str]:
    return [str(WHY_WORDS.get(code, code)) for code in codes]


def configured_gateway() -> Gateway | None:
    return gateway_from_config(current_app.config)


def settle_after_recording(visit: SettledVisit, recorder: User) -> Attempt | None:
    """After ``record_visit`` committed: settle the visit now, or leave it pending."""
    gateway = configured_gateway()
    if gateway is None:
        return None
    claim = visit_claim(visit, recorder.username, recorder.display_name or recorder.username)
    return settle_recorded_visit(visit, claim, gateway, clock())


def reverse_after_void(visit_id: int) -> str | None:
    """After ``void_visit`` committed: undo the visit's settlement (or leave it to the loop)."""
    gateway = configured_gateway()
    if gateway is None:
        return None
    return reverse_visit_settlement(visit_id, gateway, clock())


def _visible_clinic_ids() -> list[int]:
    clinics = db.session.scalars(select(Clinic)).all()
    return [c.id for c in clinics if can_see_clinic(current_user, c)]


@bp.route("/insurance/pending")
@role_required("doctor", "reviewer", "finance", "admin")
def board() -> str:
    rows = unsettled(_visible_clinic_ids())
    return render_template(
        "insurance/board.html",
        rows=rows,
        status_words=status_words,
        failure_words=failure_words,
        configured=configured_gateway() is not None,
    )


@bp.route("/insurance/decide/<clinic>/<month>", methods=["POST"])
@role_required("finance")
def decide(clinic: str, month: str) -> Any:
    """Finance lets the statement be paid at the expected figures, with a reason (SPEC §7)."""
    found = clinic_by_code(clinic)
    if not can_see_clinic(current_user, found):
        abort(403)
    try:
        n = decide_at_expected(found.id, month, request.form.get("reason", ""), current_user,
                               clock()())  # fmt: skip
    except DomainError as exc:
        flash("; ".join(p.message for p in exc.problems), "error")
    else:
        flash(_("%(n)s pending visits decided at the expected figures.", n=n), "info")
    return redirect(url_for("settlement.statement", clinic=clinic, month=month), code=303)


@bp.route("/insurance/settlements/<int:settlement_id>/retry", methods=["POST"])
@role_required("doctor", "reviewer", "admin")
def retry(settlement_id: int) -> Any:
    row = db.session.get(InsuranceSettlement, settlement_id)
    if row is None:
        abort(404)
    clinic = db.session.get(Clinic, row.clinic_id)
    if clinic is None or not can_see_clinic(current_user, clinic):
        abort(403)
    gateway = configured_gateway()
    if gateway is None:
        abort(409)
    attempt = retry_now(settlement_id, gateway, clock())
    if attempt.status == "settled":
        flash(_("Receipt %(number)s is settled.", number=row.receipt_number), "info")
    else:
        flash(_("Receipt %(number)s is still not settled: %(why)s", number=row.receipt_number,
                why=failure_words(attempt.reason)), "error")  # fmt: skip
    return redirect(url_for("insurance.board"), code=303)
