"""Read-only views for the verification page and for the reviewers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.oversight.models import ReceiptCode, ReceiptFeedback
from app.visits.models import Visit


@dataclass(frozen=True)
class PublicReceipt:
    """What a stranger holding the receipt may see: nothing that identifies the patient."""

    code: str
    clinic_name: str
    visit_date: str
    receipt_number: str
    patient: int  # fen the patient paid
    others: int  # fen paid by the fund and the district together
    fund: int
    fiscal: int
    programme: bool
    voided: bool


def public_receipt(code: str) -> PublicReceipt | None:
    row = db.session.execute(
        select(ReceiptCode, Visit)
        .join(Visit, Visit.id == ReceiptCode.visit_id)
        .where(ReceiptCode.code == code)
    ).first()
    if row is None:
        return None
    visit: Visit = row[1]
    return PublicReceipt(
        code=code,
        clinic_name=visit.clinic.name,
        visit_date=visit.visit_date.isoformat(),
        receipt_number=visit.receipt_number,
        patient=visit.patient,
        others=visit.fund + visit.fiscal,
        fund=visit.fund,
        fiscal=visit.fiscal,
        programme=visit.programme,
        voided=visit.voided_at is not None,
    )


def complaints_by_clinic(month: str) -> dict[int, int]:
    """Per clinic, the month's visits whose patient said he was asked to pay more."""
    rows = db.session.execute(
        select(Visit.clinic_id, func.count(func.distinct(ReceiptFeedback.visit_id)))
        .join(Visit, Visit.id == ReceiptFeedback.visit_id)
        .where(ReceiptFeedback.asked_more, Visit.month == month)
        .group_by(Visit.clinic_id)
    ).all()
    return {clinic_id: count for clinic_id, count in rows}
