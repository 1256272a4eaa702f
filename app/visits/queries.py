"""Read-only questions about visits and patients; nothing here writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Date, Select, String, Table, and_, bindparam, func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.access import can_see_clinic, require_clinic_visible
from app.auth.models import User
from app.catalog.models import CatalogItem, ItemPrice
from app.catalog.rules import pinyin_initials
from app.database import loaded_instance
from app.errors import NotFound, Problem, ProblemCode
from app.extensions import db
from app.localtime import start_of_local_day
from app.people.models import Resident
from app.people.rules import mask_name, parse_id_number
from app.periods.models import Statement
from app.places.models import Clinic, Town, Village
from app.policy.models import PolicyVersion
from app.policy.queries import version_in_force
from app.visits.models import DayClose, FundUsage, Visit
from app.visits.rules import (
    ClinicFacts,
    Eligibility,
    PatientFacts,
    assess_eligibility,
    clinic_in_programme,
    insurance_active,
)

T = TypeVar("T")


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


@dataclass(frozen=True)
class VisitFacts:
    """A clinic and a patient's standing there on a day: everything a visit is priced by."""

    clinic: Clinic
    standing: PatientStanding
    # The catalogue items asked for (by code), each with its price on the day.
    items: dict[str, PricedItem] = field(default_factory=dict)


@dataclass(frozen=True)
class PricedItem:
    """A catalogue item as the visit copies it, and its price on the day (None: unpriced)."""

    id: int
    code: str
    name: str
    kind: str
    unit: str
    insurance_class: str
    price: int | None
    # The national catalogue's fields of the day's price row (SPEC §2.1).
    national_code: str | None = None
    fee_class: str | None = None
    selfpay_ratio: int | None = None  # ten-thousandths
    price_ceiling: int | None = None  # fen per unit


# The rows visit_facts reads, in the order its one row holds their columns.
_FACT_TABLES: tuple[tuple[str, Any], ...] = (
    ("clinic", Clinic),
    ("clinic_village", Village),
    ("clinic_town", Town),
    ("resident", Resident),
    ("hukou_village", Village),
    ("hukou_town", Town),
    ("version", PolicyVersion),
)


@cache
def _facts_statement(*, by_id: bool) -> tuple[Select[Any], tuple[tuple[Any, tuple[str, ...]], ...]]:
    """Built once (bound parameters): a Core select of every column of the seven rows.

    Also answers, per row, its model and the attribute names of its columns,
    in the select's order.
    """
    t = {name: cast(Table, model.__table__).alias(name) for name, model in _FACT_TABLES}
    columns: list[Any] = []
    layout: list[tuple[Any, tuple[str, ...]]] = []
    for name, model in _FACT_TABLES:
        keys = []
        for prop in model.__mapper__.column_attrs:
            columns.append(t[name].c[prop.columns[0].key])
            keys.append(prop.key)
        layout.append((model, tuple(keys)))
    clinic, resident = t["clinic"], t["resident"]
    clinic_village, clinic_town = t["clinic_village"], t["clinic_town"]
    hukou_village, hukou_town = t["hukou_village"], t["hukou_town"]
    version_id = version_in_force(clinic_town.c.district_code, bindparam("day", type_=Date))
    joined = (
        clinic.join(clinic_village, clinic_village.c.code == clinic.c.village_code)
        .join(clinic_town, clinic_town.c.code == clinic_village.c.town_code)
        .outerjoin(resident, resident.c.id_number == bindparam("id_number", type_=String))
        .outerjoin(hukou_village, hukou_village.c.code == resident.c.hukou_village_code)
        .outerjoin(hukou_town, hukou_town.c.code == hukou_village.c.town_code)
        .outerjoin(t["version"], t["version"].c.id == version_id)
    )
    # The lines' items and their prices: one row each (one row of NULLs if none).
    items = _prices_statement().subquery("item")
    joined = joined.outerjoin(items, items.c.code.in_(bindparam("codes", expanding=True)))
    columns.extend(items.c)
    key = clinic.c.id if by_id else clinic.c.code
    statement = select(*columns).select_from(joined).where(key == bindparam("clinic"))
    return statement, tuple(layout)


def visit_facts(
    id_number: str,
    day: dt.date,
    *,
    clinic_code: str | None = None,
    clinic_id: int | None = None,
    codes: Collection[str] = (),
) -> VisitFacts | None:
    """Eligibility (SPEC §3.2) of a normalised ID number at a clinic, in ONE query.

    The clinic (with its village and town: its district), the resident (with
    hukou village and town), the policy version in force in the clinic's
    district on ``day`` and the catalogue items named by ``codes`` with their
    prices on ``day`` (joined: one row per item) come
    back together, read now (nothing cached); no attribute is loaded lazily
    afterwards.  None when there is no such clinic.
    This is the one place a patient's facts are gathered: the eligibility
    lookup, the quote and the recorded visit all use it, so what the terminal
    shows before a visit is what the visit is priced with.

    The row is read with Core and handed out as detached snapshots (model
    instances with every column and the village/town links set, never in the
    session): the ORM's loading of seven entities cost more than the query.
    They are for reading; nothing may add them to a session.
    """
    params = {
        "id_number": id_number,
        "day": day,
        "clinic": clinic_id or clinic_code,
        "codes": sorted(codes),
    }
    statement, layout = _facts_statement(by_id=clinic_id is not None)
    answer = db.session.connection().execute(statement, params).all()
    if not answer:
        return None
    row = answer[0]
    width = sum(len(keys) for _, keys in layout)
    items = {
        item.code: item
        for item in (PricedItem(*priced[width:]) for priced in answer)
        if item.code is not None
    }
    rows: list[Any] = []
    at = 0
    for model, keys in layout:
        values = row[at : at + len(keys)]
        at += len(keys)
        rows.append(
            None
            if values[0] is None
            else loaded_instance(model, dict(zip(keys, values, strict=True)))
        )
    clinic, clinic_village, clinic_town, resident, village, hukou_town, version = rows
    set_committed_value(clinic_village, "town", clinic_town)
    set_committed_value(clinic, "village", clinic_village)
    if resident is not None:
        set_committed_value(village, "town", hukou_town)
        set_committed_value(resident, "hukou_village", village)
    facts = PatientFacts(known=False)
    if resident is not None and village is not None:
        facts = PatientFacts(
            known=True,
            hukou_district=village.town.district_code,
            hukou_kind=village.kind,
            insured=insurance_active(
                resident.insurance_type, resident.insured_from, resident.insured_to, day
            ),
            died_on=resident.died_on
            if resident.died_on is not None and resident.died_on <= day
            else None,
        )
    eligibility = assess_eligibility(
        version.to_policy() if version else None,
        facts,
        ClinicFacts(
            clinic.district_code, clinic_in_programme(clinic.joined_on, clinic.left_on, day)
        ),
    )
    return VisitFacts(clinic, PatientStanding(resident, village, version, eligibility), items)


def patient_standing(id_number: str, clinic: Clinic, day: dt.date) -> PatientStanding:
    """:func:`visit_facts` for a clinic already in hand."""
    facts = visit_facts(id_number, day, clinic_id=clinic.id)
    assert facts is not None  # the clinic exists: it was loaded
    return facts.standing


@cache
def _prices_statement() -> Any:
    """Every catalogue item with its price valid on ``:day`` (NULL if none): the
    facts query joins the lines' codes to it."""
    valid_price = and_(
        ItemPrice.item_id == CatalogItem.id,
        ItemPrice.valid_from <= bindparam("day", type_=Date),
        or_(ItemPrice.valid_to.is_(None), ItemPrice.valid_to >= bindparam("day", type_=Date)),
    )
    return select(
        CatalogItem.id,
        CatalogItem.code,
        CatalogItem.name,
        CatalogItem.kind,
        CatalogItem.unit,
        CatalogItem.insurance_class,
        ItemPrice.price,
        ItemPrice.national_code,
        ItemPrice.fee_class,
        ItemPrice.selfpay_ratio,
        ItemPrice.price_ceiling,
    ).outerjoin(ItemPrice, valid_price)


def year_usage(resident_id: int, year: int) -> tuple[int, int]:
    """Fund paid and deductible used by a person in a year so far (read, not locked)."""
    row = db.session.execute(
        select(FundUsage.fund_paid, FundUsage.deductible_used).where(
            FundUsage.resident_id == resident_id, FundUsage.year == year
        )
    ).first()
    return (row.fund_paid, row.deductible_used) if row is not None else (0, 0)


def patient_eligibility(
    id_number: str, clinic: Clinic, day: dt.date, actor: User
) -> PatientEligibility:
    """Who the patient is and whether a visit on ``day`` at ``clinic`` is a programme visit.

    An ID number that is valid but not registered is not an error (SPEC §3.4).
    """
    require_clinic_visible(actor, clinic)
    number = parse_id_number(id_number, "id_number").value
    standing = patient_standing(number, clinic, day)
    paid = year_usage(standing.resident.id, day.year)[0] if standing.resident is not None else 0
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
        raise NotFound(Problem("visit", f"no visit {visit_id}", ProblemCode.NOT_FOUND))
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
        .options(selectinload(Visit.lines), selectinload(Visit.checks))
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


# --- the visit register ------------------------------------------------------------


@dataclass(frozen=True)
class RegisterFilter:
    """What the register is searched by; every field optional (``status``: all/normal/voided)."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    id_number: str = ""  # a whole, valid ID number: matched exactly
    name: str = ""  # pinyin initials of the name (ASCII) or part of the name (Chinese)
    receipt: str = ""  # part of the receipt number
    status: str = "all"


def _residents_named(clinic: Clinic, name: str, where: list[Any]) -> list[int]:
    """Residents who visited in the range whose name's pinyin initials start with ``name``
    (or whose name contains it, when it is not ASCII)."""
    rows = db.session.execute(
        select(Resident.id, Resident.name).where(
            Resident.id.in_(select(Visit.resident_id).where(*where).distinct())
        )
    ).all()
    wanted = name.lower()
    if wanted.isascii():
        return [rid for rid, full in rows if pinyin_initials(full).startswith(wanted)]
    return [rid for rid, full in rows if wanted in full]


def register_visits(
    clinic: Clinic, search: RegisterFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Visit], int]:
    """A clinic's visits found by the register's filter, newest first, one page of them."""
    where: list[Any] = [Visit.clinic_id == clinic.id]
    if search.date_from:
        where.append(Visit.visited_at >= start_of_local_day(search.date_from))
    if search.date_to:
        where.append(Visit.visited_at < start_of_local_day(search.date_to + dt.timedelta(days=1)))
    if search.status == "normal":
        where.append(Visit.voided_at.is_(None))
    elif search.status == "voided":
        where.append(Visit.voided_at.is_not(None))
    if search.receipt:
        where.append(Visit.receipt_number.contains(search.receipt, autoescape=True))
    if search.id_number:
        where.append(Visit.patient_id_number == search.id_number)
    if search.name:
        where.append(Visit.resident_id.in_(_residents_named(clinic, search.name, where)))
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*where)) or 0
    rows = db.session.scalars(
        select(Visit)
        .where(*where)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), total


def month_statuses(clinic_id: int, months: set[str]) -> dict[str, str]:
    """The statement status of each month given (a month with no statement row is open)."""
    found = dict(
        db.session.execute(
            select(Statement.month, Statement.status).where(
                Statement.clinic_id == clinic_id, Statement.month.in_(months)
            )
        ).all()
    )
    return {month: found.get(month, "open") for month in months}


def visible_clinics(user: User) -> list[Clinic]:
    """The clinics a user may see, by code (a handful per district)."""
    clinics = db.session.scalars(
        select(Clinic).options(selectinload(Clinic.village).selectinload(Village.town))
    )
    return sorted((c for c in clinics if can_see_clinic(user, c)), key=lambda c: c.code)


# --- the daily close ---------------------------------------------------------------


@dataclass(frozen=True)
class DayTotals:
    """A day's figures, summed from its valid visits (voided ones only counted)."""

    visits: int = 0
    voided: int = 0
    injections: int = 0
    registration: int = 0
    injection_fee: int = 0
    patient_share: int = 0  # copay + self-pay
    cash: int = 0  # what the patients paid: the three above
    fund: int = 0
    fiscal: int = 0
    total: int = 0


def day_totals(visits: list[Visit]) -> DayTotals:
    valid = [v for v in visits if v.voided_at is None]
    return DayTotals(
        visits=len(valid),
        voided=len(visits) - len(valid),
        injections=sum(1 for v in valid if v.injection),
        registration=sum(v.registration for v in valid),
        injection_fee=sum(v.injection_fee for v in valid),
        patient_share=sum(v.copay + v.self_pay for v in valid),
        cash=sum(v.patient for v in valid),
        fund=sum(v.fund for v in valid),
        fiscal=sum(v.fiscal for v in valid),
        total=sum(v.total for v in valid),
    )


def day_visits(clinic_id: int, day: dt.date) -> list[Visit]:
    """A clinic's visits of one day (Asia/Shanghai), voided ones included, in time order."""
    return list(
        db.session.scalars(
            select(Visit)
            .where(Visit.clinic_id == clinic_id, Visit.visit_date == day)
            .order_by(Visit.visited_at, Visit.id)
        )
    )


def day_closes(clinic_id: int, days: set[dt.date]) -> dict[dt.date, DayClose]:
    """The first close of each given day of a clinic (a day not closed is absent)."""
    if not days:
        return {}
    rows = db.session.scalars(
        select(DayClose)
        .where(DayClose.clinic_id == clinic_id, DayClose.day.in_(days))
        .order_by(DayClose.seq.desc())
    )
    return {row.day: row for row in rows}  # the lowest seq is written last


def closes_of_day(clinic_id: int, day: dt.date) -> list[DayClose]:
    """Every close of the clinic's day, in order."""
    return list(
        db.session.scalars(
            select(DayClose)
            .where(DayClose.clinic_id == clinic_id, DayClose.day == day)
            .order_by(DayClose.seq)
        )
    )


@dataclass(frozen=True)
class DayEntry:
    """A line of a section of the daily close sheet."""

    visit: Visit
    # An earlier section's visit voided in this one: its money comes off this section.
    reversal: bool = False
    # Voided before this section was closed (or, in the open section, voided already).
    voided_here: bool = False


@dataclass(frozen=True)
class DaySection:
    """A part of the day: closed by ``close``, or (``None``) entered since the last close."""

    number: int  # 1, 2 …
    close: DayClose | None
    entries: list[DayEntry]
    totals: DayTotals

    @property
    def late(self) -> bool:
        """Entered after the day's first close (日结后补录)."""
        return self.number > 1


def _section_totals(entries: list[DayEntry]) -> DayTotals:
    def money(v: Visit) -> tuple[int, ...]:
        return (
            1 if v.injection else 0,
            v.registration,
            v.injection_fee,
            v.copay + v.self_pay,
            v.patient,
            v.fund,
            v.fiscal,
            v.total,
        )

    sums = [0] * 8
    visits = voided = 0
    for entry in entries:
        if entry.voided_here:
            voided += 1
            continue
        sign = -1 if entry.reversal else 1
        visits += sign
        voided += 1 if entry.reversal else 0
        for i, value in enumerate(money(entry.visit)):
            sums[i] += sign * value
    return DayTotals(visits, voided, *sums)


def day_sections(visits: list[Visit], closes: list[DayClose]) -> list[DaySection]:
    """The day cut at each close: what each close closed, then what came after.

    Section k holds the visits recorded after close k−1 and up to close k, and
    the voids in that time of visits of earlier sections (taken off its
    money).  A closed section's figures therefore never change — a later void
    lands in a later section — and the sections add up to the day.  An open
    section (entries since the last close) is listed only if it has entries,
    or if the day has no close yet.
    """
    bounds = [c.closed_at for c in closes]

    def section_of(moment: dt.datetime) -> int:
        for index, bound in enumerate(bounds):
            if moment <= bound:
                return index
        return len(bounds)

    entries: list[list[DayEntry]] = [[] for _ in range(len(bounds) + 1)]
    for v in visits:
        recorded = section_of(v.recorded_at)
        voided = section_of(v.voided_at) if v.voided_at is not None else None
        entries[recorded].append(DayEntry(v, voided_here=voided == recorded))
        if voided is not None and voided != recorded:
            entries[voided].append(DayEntry(v, reversal=True))
    sections = [
        DaySection(n + 1, closes[n] if n < len(closes) else None, e, _section_totals(e))
        for n, e in enumerate(entries)
    ]
    if closes and not sections[-1].entries:
        sections.pop()
    return sections


def doctor_names(user_ids: Collection[int]) -> dict[int, str]:
    """User id → the name papers show (display name and practitioner code), one query."""
    if not user_ids:
        return {}
    return {
        user.id: user.shown_name
        for user in db.session.scalars(select(User).where(User.id.in_(set(user_ids))))
    }
