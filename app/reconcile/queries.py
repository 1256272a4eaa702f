"""Read-only views of a district-month's reconciliation and of a statement's adjustments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, case, func, select

from app.extensions import db
from app.places.models import Clinic
from app.places.queries import Scope, clinic_ids, within
from app.reconcile.models import DailyDifference, FundFile, FundFinding
from app.reconcile.platform import PlatformVisit
from app.settlement.models import StatementAdjustment
from app.visits.models import Visit


@dataclass(frozen=True)
class OutcomeLine:
    outcome: str
    reason: str
    count: int
    fund_computed: int
    fund_paid: int

    @property
    def difference(self) -> int:
        return self.fund_computed - self.fund_paid


@dataclass(frozen=True)
class ClinicLine:
    clinic: str
    name: str
    findings: int
    differing: int
    difference: int  # Σ (computed − paid) over backstopped findings
    adjusted: int  # adjustments belonging to this month, on whichever statement booked
    fiscal: int  # the backstop as recorded (unreconciled)

    @property
    def reconciled_fiscal(self) -> int:
        return self.fiscal + self.adjusted


@dataclass
class Reconciliation:
    district: str
    month: str
    files: Sequence[FundFile]
    outcomes: list[OutcomeLine] = field(default_factory=list)
    clinics: list[ClinicLine] = field(default_factory=list)
    biggest: Sequence[FundFinding] = field(default_factory=list)

    @property
    def backstop_effect(self) -> int:
        return sum(c.adjusted for c in self.clinics)


def reconciliation(
    district: str, month: str, town: str | None = None, biggest: int = 20
) -> Reconciliation:
    """Counts and sums per outcome and per clinic, the biggest differences first.

    ``town``: a town-scoped reviewer or finance user sees only that town's
    clinics (the findings without a clinic, rows naming no clinic of the
    district, are the district's and left out).  A clinic's adjustments are
    those that *belong to* the month, wherever they were booked: a late file
    for a paid month puts its money on the next open statement, and this
    month's report still counts it.
    """
    files = db.session.scalars(
        select(FundFile)
        .where(FundFile.district_code == district, FundFile.month == month)
        .order_by(FundFile.imported_at)
    ).all()
    report = Reconciliation(district, month, files)
    where: tuple[ColumnElement[bool], ...] = (
        FundFinding.district_code == district,
        FundFinding.month == month,
    )
    if town is not None:
        where = (*where, FundFinding.clinic_id.in_(clinic_ids(Scope(district, town))))
    for outcome, reason, count, computed, paid in db.session.execute(
        select(
            FundFinding.outcome,
            FundFinding.reason,
            func.count(),
            func.sum(FundFinding.fund_computed),
            func.sum(FundFinding.fund_paid),
        )
        .where(*where)
        .group_by(FundFinding.outcome, FundFinding.reason)
        .order_by(FundFinding.outcome, FundFinding.reason)
    ):
        report.outcomes.append(OutcomeLine(outcome, reason, count, computed or 0, paid or 0))

    adjusted = (
        select(StatementAdjustment.clinic_id, func.sum(StatementAdjustment.amount).label("amount"))
        .where(StatementAdjustment.belongs_to == month, StatementAdjustment.source == "fund")
        .group_by(StatementAdjustment.clinic_id)
        .subquery()
    )
    fiscal = (
        select(Visit.clinic_id, func.sum(Visit.fiscal).label("fiscal"))
        .where(Visit.month == month, Visit.voided_at.is_(None))
        .group_by(Visit.clinic_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Clinic.code,
            Clinic.name,
            func.count(FundFinding.id),
            func.sum(case((FundFinding.outcome != "matched", 1), else_=0)),
            func.sum(
                case(
                    (FundFinding.backstopped, FundFinding.fund_computed - FundFinding.fund_paid),
                    else_=0,
                )
            ),
            func.coalesce(func.max(adjusted.c.amount), 0),
            func.coalesce(func.max(fiscal.c.fiscal), 0),
        )
        .join(FundFinding, FundFinding.clinic_id == Clinic.id)
        .outerjoin(adjusted, adjusted.c.clinic_id == Clinic.id)
        .outerjoin(fiscal, fiscal.c.clinic_id == Clinic.id)
        .where(*where)
        .group_by(Clinic.code, Clinic.name)
        .order_by(Clinic.code)
    ).all()
    report.clinics = [ClinicLine(*row) for row in rows]
    report.biggest = db.session.scalars(
        select(FundFinding)
        .where(*where, FundFinding.outcome != "matched")
        .order_by(
            func.abs(FundFinding.fund_computed - FundFinding.fund_paid).desc(), FundFinding.id
        )
        .limit(biggest)
    ).all()
    return report


def platform_visits(district: str, month: str) -> list[PlatformVisit]:
    """The month's recorded, unvoided insured visits of a district, as the platform sees them."""
    rows = db.session.execute(
        within(
            select(Visit, Clinic.insurance_code).join(Clinic, Clinic.id == Visit.clinic_id),
            Scope(district),
        )
        .where(
            Visit.month == month,
            Visit.voided_at.is_(None),
            Visit.insured,
            Clinic.insurance_code.isnot(None),
        )
        .order_by(Visit.id)
    ).all()
    return [
        PlatformVisit(
            insurance_code=code or "",
            receipt_number=v.receipt_number,
            id_number=v.patient_id_number,
            visited_at=v.visited_at,
            lines_total=v.lines_total,
            in_scope=v.in_scope,
            deductible_applied=v.deductible_applied,
            fund=v.fund,
            patient=v.patient,
        )
        for v, code in rows
    ]


def insurance_codes(district: str) -> set[str]:
    """The insurance institution codes of the district's clinics (what the platform knows)."""
    return set(
        db.session.scalars(
            within(select(Clinic.insurance_code), Scope(district)).where(
                Clinic.insurance_code.isnot(None)
            )
        )
    )


def daily_differences(
    district: str, day: dt.date, town: str | None = None
) -> Sequence[DailyDifference]:
    """The differences found for ``day`` in the district's (or the town's) clinics."""
    query = within(
        select(DailyDifference).join(Clinic, Clinic.id == DailyDifference.clinic_id),
        Scope(district, town),
    )
    query = query.where(DailyDifference.day == day).order_by(
        Clinic.code, DailyDifference.setl_id, DailyDifference.negative
    )
    return db.session.scalars(query).all()
