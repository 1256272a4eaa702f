"""The receipt page: the patient's receipt on screen, and as a PDF to print.

Every figure is the stored visit's (:mod:`app.visits.receipts` never re-prices);
the PDF is Chinese whatever the screen's language, answered through the one
download helper.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.visits.pages import bp
from app.visits.queries import visit_for
from app.visits.receipts import reason_words, receipt_document, receipt_pdf
from app.web.downloads import download


@bp.route("/visits/<int(max=2147483647):visit_id>/receipt")
@login_required
def receipt(visit_id: int) -> str:
    visit = visit_for(visit_id, current_user)  # 403 outside the user's clinic
    return render_template(
        "visits/receipt.html",
        visit=visit,
        doc=receipt_document(visit),
        reasons=reason_words(visit.reason_codes),
    )


@bp.route("/visits/<int(max=2147483647):visit_id>/receipt.pdf")
@login_required
def receipt_pdf_file(visit_id: int) -> Response:
    visit = visit_for(visit_id, current_user)
    with force_locale("zh"):  # the printed receipt is Chinese whatever the screen says
        pdf = receipt_pdf(visit)
    return download(pdf, "pdf", f"receipt-{visit.receipt_number}.pdf", inline=True)
