"""Read-only questions about visits and patients; nothing here writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.auth.access import require_clinic_visible
from app.auth.models import User
from app.errors import NotFound, Problem
from app.extensions import db
from app.localtime import start_of_local_day
from app.people.models import Resident
from app.people.rules import mask_name, parse_id_number
from app.places.models import Clinic, Village
from app.policy.models import PolicyVersion
from app.policy.queries import policy_for
from app.visits.models import FundUsage, Visit
from app.visits.rules import (
    ClinicFacts,
    Eligibility,
    PatientFacts,
    assess_eligibility,
    clinic_in_programme,
    insurance_active,
)


@dataclass(frozen=True)
class PatientEligibility:
    id_number: str
    resident: Resident | None
    village: Village | None
    clinic: Clinic
    day: dt.date
    eligibility: Eligibility
    fund_paid: int
    fund_cap: int | None

    @property
    def cap_left(self) -> int | None:
        if self.fund_cap is None or not self.eligibility.insured:
            return None
        return max(0, self.fund_cap - self.fund_paid)


@dataclass(frozen=True)
class PatientStanding:
    """The register's facts about a patient at a clinic on a day, and the verdict."""

    resident: Resident | None
    village: Village | None
    policy_version: PolicyVersion | None
    eligibility: Eligibility


def patient_standing(id_number: str, clinic: Clinic, day: dt.date) -> PatientStanding:
    """Eligibility (SPEC §3.2) of a normalised ID number; the one place its facts are gathered.

    Both the eligibility lookup and the pricing of a visit use this, so what the
    terminal shows before a visit is what the visit is priced with.
    """
    resident = db.session.scalar(select(Resident).where(Resident.id_number == id_number))
    village = resident.hukou_village if resident else None
    facts = PatientFacts(known=False)
    if resident is not None and village is not None:
        facts = PatientFacts(
            known=True,
            hukou_district=village.town.district_code,
            hukou_kind=village.kind,
            insured=insurance_active(
                resident.insurance_type, resident.insured_from, resident.insured_to, day
            ),
        )
    version = policy_for(clinic.district_code, day)
    eligibility = assess_eligibility(
        version.to_policy() if version else None,
        facts,
        ClinicFacts(
            clinic.district_code, clinic_in_programme(clinic.joined_on, clinic.left_on, day)
        ),
    )
    return PatientStanding(resident, village, version, eligibility)


def patient_eligibility(
    id_number: str, clinic: Clinic, day: dt.date, actor: User
) -> PatientEligibility:
    """Who the patient is and whether a visit on ``day`` at ``clinic`` is a programme visit.

    An ID number that is valid but not registered is not an error (SPEC §3.4).
    """
    require_clinic_visible(actor, clinic)
    number = parse_id_number(id_number, "id_number").value
    standing = patient_standing(number, clinic, day)
    paid = 0
    if standing.resident is not None:
        usage = db.session.get(FundUsage, (standing.resident.id, day.year))
        paid = usage.fund_paid if usage else 0
    version = standing.policy_version
    return PatientEligibility(
        id_number=number,
        resident=standing.resident,
        village=standing.village,
        clinic=clinic,
        day=day,
        eligibility=standing.eligibility,
        fund_paid=paid,
        fund_cap=version.fund_annual_cap if version else None,
    )


def visit_for(visit_id: int, actor: User) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(Problem("visit", f"no visit {visit_id}"))
    require_clinic_visible(actor, visit.clinic, "visit")
    return visit


def visits_between(
    clinic: Clinic,
    date_from: dt.date | None,
    date_to: dt.date | None,
    *,
    page: int = 1,
    per_page: int = 50,
    include_voided: bool = True,
) -> tuple[list[Visit], int]:
    """A clinic's visits in a date range (Asia/Shanghai, inclusive), newest first."""
    where = [Visit.clinic_id == clinic.id]
    if date_from:
        where.append(Visit.visited_at >= start_of_local_day(date_from))
    if date_to:
        where.append(Visit.visited_at < start_of_local_day(date_to + dt.timedelta(days=1)))
    if not include_voided:
        where.append(Visit.voided_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*where)) or 0
    rows = db.session.scalars(
        select(Visit)
        .where(*where)
        .options(selectinload(Visit.lines))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), total


def masked_names(resident_ids: list[int]) -> dict[int, str]:
    """Masked names of residents by id, in one query (for visit lists)."""
    if not resident_ids:
        return {}
    rows = db.session.execute(
        select(Resident.id, Resident.name).where(Resident.id.in_(set(resident_ids)))
    )
    return {rid: mask_name(name) for rid, name in rows}
