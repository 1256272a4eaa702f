"""The reconciliation report as a document: PDF (reports/) and XLSX, from one data shape.

Guarantees: both files show the same figures as the page (they are built from
:func:`app.reconcile.queries.reconciliation`); words come from
:mod:`app.settlement.adjustments`; the XLSX holds money as numbers in yuan with
two decimals computed from integer fen (never float arithmetic on money), and
every text cell is made safe against formula injection.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from flask_babel import gettext as _
from openpyxl import Workbook

from app.document import Document, Kind
from app.localtime import format_local
from app.places.models import District
from app.reconcile.queries import Reconciliation
from app.settlement.adjustments import outcome_label, reason_label
from app.spreadsheet import safe_cell
from reports.reconciliation import (
    ClinicRow,
    DifferenceRow,
    OutcomeRow,
    ReconciliationDocument,
    render_reconciliation,
)


def document(
    report: Reconciliation, district: District, now: dt.datetime
) -> ReconciliationDocument:
    return ReconciliationDocument(
        district_code=district.code,
        district_name=district.name,
        month=report.month,
        generated_at=format_local(now),
        files=[f.filename.rsplit("/", 1)[-1] for f in report.files],
        outcomes=[
            OutcomeRow(
                outcome_label(o.outcome),
                reason_label(o.reason),
                o.count,
                o.fund_computed,
                o.fund_paid,
            )
            for o in report.outcomes
        ],
        clinics=[
            ClinicRow(c.clinic, c.name, c.differing, c.fiscal, c.adjusted, c.reconciled_fiscal)
            for c in report.clinics
        ],
        biggest=[
            DifferenceRow(
                f.receipt_number,
                f.clinic.code if f.clinic else "",
                outcome_label(f.outcome),
                reason_label(f.reason),
                f.fund_computed,
                f.fund_paid,
            )
            for f in report.biggest
        ],
    )


def pdf(report: Reconciliation, district: District, now: dt.datetime) -> bytes:
    return render_reconciliation(document(report, district, now))


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def xlsx(report: Reconciliation, district: District, now: dt.datetime) -> bytes:
    doc = document(report, district, now)
    book = Workbook()
    outcomes = book.active
    assert outcomes is not None
    outcomes.title = _("Outcomes")
    outcomes.append(
        [_("Outcome"), _("Reason"), _("Count"), _("Fund computed"), _("Fund paid"), _("Difference")]
    )
    for o in doc.outcomes:
        outcomes.append(
            [
                safe_cell(o.outcome),
                safe_cell(o.reason),
                o.count,
                _yuan(o.fund_computed),
                _yuan(o.fund_paid),
                _yuan(o.fund_computed - o.fund_paid),
            ]
        )
    clinics = book.create_sheet(_("Clinics"))
    clinics.append(
        [
            _("Code"),
            _("Clinic"),
            _("Differing"),
            _("Backstop recorded"),
            _("Adjustments"),
            _("Backstop reconciled"),
        ]
    )
    for c in doc.clinics:
        clinics.append(
            [
                safe_cell(c.code),
                safe_cell(c.name),
                c.differing,
                _yuan(c.fiscal),
                _yuan(c.adjusted),
                _yuan(c.reconciled),
            ]
        )
    biggest = book.create_sheet(_("Biggest differences"))
    biggest.append(
        [
            _("Receipt number"),
            _("Clinic"),
            _("Outcome"),
            _("Reason"),
            _("Fund computed"),
            _("Fund paid"),
            _("Difference"),
        ]
    )
    for b in doc.biggest:
        biggest.append(
            [
                safe_cell(b.receipt_number),
                safe_cell(b.clinic),
                safe_cell(b.outcome),
                safe_cell(b.reason),
                _yuan(b.fund_computed),
                _yuan(b.fund_paid),
                _yuan(b.fund_computed - b.fund_paid),
            ]
        )
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, Decimal):
                    cell.number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(report: Reconciliation, kind: str) -> str:
    return f"对账-{report.district}-{report.month}.{kind}"


def reconciliation_file(
    report: Reconciliation, district: District, kind: Kind, now: dt.datetime
) -> Document:
    """The month's reconciliation report as a PDF or a workbook."""
    body = pdf(report, district, now) if kind == "pdf" else xlsx(report, district, now)
    return Document(filename(report, kind), kind, body)
