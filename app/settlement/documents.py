"""The printed statement and district summary, built from the database.

Turns :mod:`app.settlement.queries` views into the plain data of
:mod:`reports.data` — int fen, Asia/Shanghai text — and hands it to the
ReportLab renderers.  The figures are the same objects the JSON, CSV and XLSX
are made from, so every surface prints the same numbers to the fen, and the
labels are the ones of :mod:`app.settlement.labels`, read in Chinese and handed
over as plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from flask_babel import gettext as _

from app.audit.queries import clinic_head_label
from app.checks.words import decision_words
from app.document import Document, Kind
from app.localtime import format_local
from app.money import format_quantity
from app.settlement import exports
from app.settlement.adjustments import reason_label, source_label
from app.settlement.labels import action_label, document_locale, figure_labels, status_label
from app.settlement.queries import (
    ADJUSTMENT_FROM_REVIEW,
    SYSTEM_ACTOR,
    DistrictSummary,
    StatementView,
    VisitDetail,
    visit_detail_rows,
)
from reports import data as doc
from reports import render_district_summary, render_statement


def statement_document(view: StatementView, now: dt.datetime) -> doc.StatementDocument:
    with document_locale():
        return _statement_document(view, now)


def _statement_document(view: StatementView, now: dt.datetime) -> doc.StatementDocument:
    clinic = view.clinic
    town = clinic.village.town
    return doc.StatementDocument(
        district_code=town.district_code,
        district_name=town.district.name,
        town_name=town.name,
        clinic_code=clinic.code,
        clinic_name=clinic.name,
        month=view.month,
        status=view.status,
        status_label=status_label(view.status),
        generated_at=format_local(now),
        audit_head=clinic_head_label(clinic.code),
        figures=view.figures,
        figure_labels=figure_labels(),
        days=tuple(doc.DayRow(day.isoformat(), f) for day, f in view.days),
        items=tuple(
            doc.ItemRow(i.code, i.name, i.unit, format_quantity(i.quantity), i.amount)
            for i in view.items
        ),
        history=tuple(
            doc.HistoryRow(
                action_label(h.action),
                _("System") if h.actor == SYSTEM_ACTOR else h.actor,
                format_local(h.at),
                decision_words(h.reason),
            )
            for h in view.history
        ),
        adjustments=_adjustment_rows(view),
        diagnoses=tuple((d.code, d.name, d.visits) for d in view.diagnoses),
        doctors=tuple(view.doctors),
    )


def _adjustment_rows(view: StatementView) -> tuple[doc.AdjustmentRow, ...]:
    return tuple(
        doc.AdjustmentRow(
            a.receipt_number,
            a.belongs_to,
            source_label(a.source),
            reason_label(a.reason),
            a.fund_computed,
            a.fund_paid,
            a.amount,
            disallowed=a.source == ADJUSTMENT_FROM_REVIEW,
        )
        for a in view.adjustments
    )


def summary_document(summary: DistrictSummary, now: dt.datetime) -> doc.DistrictSummaryDocument:
    with document_locale():
        return _summary_document(summary, now)


def _summary_document(summary: DistrictSummary, now: dt.datetime) -> doc.DistrictSummaryDocument:
    t = summary.totals
    name = summary.district.name + (f"{summary.town.name}" if summary.town else "")
    return doc.DistrictSummaryDocument(
        district_code=summary.district.code,
        district_name=name,
        month=summary.month,
        generated_at=format_local(now),
        figure_labels=figure_labels(),
        rows=tuple(
            doc.SummaryRow(
                clinic_code=line.clinic.code,
                clinic_name=line.clinic.name,
                town_name=line.clinic.village.town.name,
                status=line.status,
                status_label=status_label(line.shown_status),
                visits=line.figures.visits,
                programme_visits=line.figures.programme_visits,
                total=line.figures.total,
                fund=line.figures.fund,
                fiscal=line.figures.fiscal,
                paid=line.paid.amount if line.paid else None,
                paid_on=line.paid.paid_on.isoformat() if line.paid else "",
                reference=line.paid.reference if line.paid else "",
                adjustments=line.adjustment_total,
                review_deductions=line.review_deduction,
            )
            for line in summary.lines
        ),
        totals=doc.SummaryTotals(
            visits=t.visits,
            programme_visits=t.programme_visits,
            total=t.total,
            fund=t.fund,
            fiscal=t.fiscal,
            paid=summary.paid,
            outstanding=summary.outstanding,
            adjustments=summary.adjustment_total,
            review_deductions=summary.review_deduction,
        ),
    )


def statement_pdf(view: StatementView, now: dt.datetime) -> bytes:
    return render_statement(statement_document(view, now))


def summary_pdf(summary: DistrictSummary, now: dt.datetime) -> bytes:
    return render_district_summary(summary_document(summary, now))


def statement_filename(view: StatementView, ext: str) -> str:
    return f"{view.clinic.code}-{view.month}.{ext}"


def summary_filename(summary: DistrictSummary, ext: str) -> str:
    scope = summary.town.code if summary.town else summary.district.code
    return f"{scope}-{summary.month}-summary.{ext}"


def visits_filename(detail: VisitDetail) -> str:
    return f"{detail.scope}-{detail.month}-visits.csv"


# --- the documents as files: one dispatch for pages and API --------------------------


def statement_file(view: StatementView, kind: Kind, now: dt.datetime) -> Document:
    """A clinic's statement as a PDF, a CSV (streamed) or a workbook."""
    body: bytes | Iterable[bytes]
    if kind == "csv":
        body = exports.statement_csv(view)
    elif kind == "pdf":
        body = statement_pdf(view, now)
    else:
        body = exports.statement_xlsx(view)
    return Document(statement_filename(view, kind), kind, body)


def summary_file(summary: DistrictSummary, kind: Kind, now: dt.datetime) -> Document:
    """A district's (or town's) summary as a PDF, a CSV (streamed) or a workbook."""
    body: bytes | Iterable[bytes]
    if kind == "csv":
        body = exports.summary_csv(summary)
    elif kind == "pdf":
        body = summary_pdf(summary, now)
    else:
        body = exports.summary_xlsx(summary)
    return Document(summary_filename(summary, kind), kind, body)


def visits_file(detail: VisitDetail) -> Document:
    """A month visit by visit (what the statements sum): a streamed CSV."""
    return Document(visits_filename(detail), "csv", exports.visits_csv(visit_detail_rows(detail)))
