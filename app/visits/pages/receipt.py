"""The receipt page: the patient's receipt on screen, and as a PDF to print.

Every figure is the stored visit's (:mod:`app.visits.receipts` never re-prices);
the PDF is Chinese whatever the screen's language, answered through the one
download helper.
"""

from __future__ import annotations

import base64
import io

import segno
from flask import current_app, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.checks.codes import grouped
from app.checks.rules import Rule
from app.checks.words import RULE_NAMES, check_message
from app.clock import clock
from app.insurance.pages import failure_words, pre_settlement_words, why_words
from app.insurance.queries import settlement_for_visit
from app.money import format_yuan
from app.visits.hooks import hooks
from app.visits.models import Visit
from app.visits.pages import bp
from app.visits.queries import month_statuses, visit_for
from app.visits.receipts import reason_words, receipt_document, receipt_pdf
from app.web.downloads import Document, send_document
from app.web.routing import id_rule


def _check(visit_id: int) -> tuple[str, str]:
    """The receipt's public check code (grouped) and the address its QR code opens."""
    code = hooks().receipt_code(visit_id, clock()())
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return grouped(code), f"{base.rstrip('/')}{url_for('verify.receipt', code=code)}"


def qr_svg(url: str) -> str:
    """The QR code as a data URI (an image: the CSP allows no inline script or style)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@bp.route(f"/visits/{id_rule('visit_id')}/receipt")
@login_required
def receipt(visit_id: int) -> str:
    visit = visit_for(visit_id, current_user)  # 403 outside the user's clinic
    code, url = _check(visit.id)
    return render_template(
        "visits/receipt.html",
        visit=visit,
        doc=receipt_document(visit, code, url),
        reasons=reason_words(visit.reason_codes),
        check_qr=qr_svg(url),
        checks=check_rows(visit),
        settlement_why=_settlement_why(visit.id),
        can_void=current_user.role == "doctor"
        and not visit.voided
        and month_statuses(visit.clinic_id, {visit.month})[visit.month] == "open",
    )


def _settlement_why(visit_id: int) -> list[str]:
    """For the doctor: the expected fund beside the platform's, and why they differ."""
    row = settlement_for_visit(visit_id)
    if row is not None and row.status in ("pending", "failed") and row.last_error:
        # Why it is pending (the platform's own words), and what 2206 answered if it did.
        return [failure_words(row.last_error), *pre_settlement_words(row)]
    if row is None or row.status != "settled" or row.fund == row.expected_fund:
        return []
    lead = _("Expected fund %(expected)s, the platform's %(fund)s:",
             expected=format_yuan(row.expected_fund), fund=format_yuan(row.fund or 0))  # fmt: skip
    return [lead, *why_words(row.why_codes)]


def check_rows(visit: Visit) -> list[tuple[str, str, str]]:
    """The visit's checks at recording, said in words: (rule, message, the doctor's reason)."""
    names = {line.item_code: line.item_name for line in visit.lines}
    return [
        (
            str(RULE_NAMES[Rule(c.rule)]),
            check_message(c.rule, c.facts, names.get(c.subject, c.subject)),
            c.reason or "",
        )
        for c in visit.checks
    ]


@bp.route(f"/visits/{id_rule('visit_id')}/receipt.pdf")
@login_required
def receipt_pdf_file(visit_id: int) -> Response:
    visit = visit_for(visit_id, current_user)
    code, url = _check(visit.id)
    with force_locale("zh"):  # the printed receipt is Chinese whatever the screen says
        pdf = receipt_pdf(visit, code, url)
    return send_document(Document(f"receipt-{visit.receipt_number}.pdf", "pdf", pdf, inline=True))
