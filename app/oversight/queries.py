"""Read-only views for the verification page and for the reviewers.

Guarantees: a district-month's clinic figures (:func:`clinic_months`) are
read in a few set-based queries whatever the number of clinics (visits,
residents, complaints, disowned visits, residents seen, warnings), never
visit by visit; the oversight thresholds come from one place,
:func:`oversight_policy_for`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlalchemy import case, false, func, literal, select
from sqlalchemy.orm import selectinload

from app.catalog.models import Diagnosis
from app.checks.rules import (
    DIAGNOSIS_FIGURES,
    ClinicDiagnoses,
    ClinicMonth,
    Figure,
    OversightPolicy,
    PastStatement,
)
from app.extensions import db
from app.oversight.models import (
    ClinicFlag,
    ReceiptCode,
    ReceiptFeedback,
    ReviewItem,
    VisitDisowned,
)
from app.people.models import Resident
from app.periods.models import Statement, StatementEvent
from app.places.models import Clinic
from app.places.queries import Scope, within
from app.policy.queries import policy_for
from app.visits.models import Visit, VisitCheck, VisitLine


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
    # The answer already given on this receipt (the last one), shown instead of a blank form.
    answer: ReceiptFeedback | None = None


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
        answer=db.session.scalar(
            select(ReceiptFeedback)
            .where(ReceiptFeedback.visit_id == visit.id)
            .order_by(ReceiptFeedback.id.desc())
            .limit(1)
        ),
    )


@dataclass(frozen=True)
class OwnVisit:
    """One of a resident's visits as he sees it on the receipt check."""

    visit_id: int
    visit_date: dt.date
    clinic_name: str
    items: tuple[tuple[str, int, str], ...]  # name, quantity (thousandths), unit
    patient: int  # fen
    fund: int
    fiscal: int
    disowned: bool


@dataclass(frozen=True)
class OwnVisits:
    """What a receipt and the last six characters of its patient's ID number entitle to:
    that person's unvoided visits since ``since``, at any clinic, and nothing else."""

    code: str
    resident_id: int | None
    via_visit_id: int
    since: dt.date
    visits: tuple[OwnVisit, ...]


def receipt_patient(code: str) -> tuple[int, str, int | None] | None:
    """The receipt's visit id, its patient's ID number and register id (None: no receipt)."""
    row = db.session.execute(
        select(Visit.id, Visit.patient_id_number, Visit.resident_id)
        .join(ReceiptCode, ReceiptCode.visit_id == Visit.id)
        .where(ReceiptCode.code == code)
    ).first()
    return (row.id, row.patient_id_number, row.resident_id) if row is not None else None


def own_visits(code: str, since: dt.date) -> OwnVisits | None:
    """The receipt's patient's unvoided visits on or after ``since``, oldest first.

    The caller has checked the ID number's tail (:func:`id_tail_matches`); two
    queries (the visits, their lines), whatever the number of visits.
    """
    found = receipt_patient(code)
    if found is None:
        return None
    via, number, resident_id = found
    visits = list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.patient_id_number == number,
                Visit.visit_date >= since,
                Visit.voided_at.is_(None),
            )
            .order_by(Visit.visited_at, Visit.id)
            .options(selectinload(Visit.lines), selectinload(Visit.clinic))
        )
    )
    disowned = set(
        db.session.scalars(
            select(VisitDisowned.visit_id).where(VisitDisowned.visit_id.in_([v.id for v in visits]))
        )
    )
    return OwnVisits(
        code=code,
        resident_id=resident_id,
        via_visit_id=via,
        since=since,
        visits=tuple(
            OwnVisit(
                visit_id=v.id,
                visit_date=v.visit_date,
                clinic_name=v.clinic.name,
                items=tuple((line.item_name, line.quantity, line.unit) for line in v.lines),
                patient=v.patient,
                fund=v.fund,
                fiscal=v.fiscal,
                disowned=v.id in disowned,
            )
            for v in visits
        ),
    )


def disowned_by_clinic(month: str) -> dict[int, int]:
    """Per clinic, the month's unvoided visits whose patient said he was not seen that day."""
    rows = db.session.execute(
        select(Visit.clinic_id, func.count(func.distinct(VisitDisowned.visit_id)))
        .join(Visit, Visit.id == VisitDisowned.visit_id)
        .where(Visit.month == month, VisitDisowned.visit_month == month, Visit.voided_at.is_(None))
        .group_by(Visit.clinic_id)
    ).all()
    return {clinic_id: count for clinic_id, count in rows}


def complaints_by_clinic(month: str) -> dict[int, int]:
    """Per clinic, the month's visits whose patient said he was asked to pay more."""
    rows = db.session.execute(
        select(Visit.clinic_id, func.count(func.distinct(ReceiptFeedback.visit_id)))
        .join(Visit, Visit.id == ReceiptFeedback.visit_id)
        .where(ReceiptFeedback.asked_more, Visit.month == month)
        .group_by(Visit.clinic_id)
    ).all()
    return {clinic_id: count for clinic_id, count in rows}


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OversightSettings:
    policy: OversightPolicy
    version: str  # the policy version it belongs to, e.g. "v3" ("" when none)

    @property
    def salt(self) -> str:
        """The sample's salt: a new policy version draws a new (reproducible) sample."""
        return self.version


def oversight_policy_for(district_code: str, day: dt.date) -> OversightSettings:
    """Every oversight rule, threshold and switch in force in a district on a day.

    All of it comes from the policy version in force that day (its
    ``[checks]``, ``[flags]``, ``[review]`` and ``[auto_submit]`` tables,
    :attr:`PolicyVersion.oversight`); no version, or a table left out: off.
    The one place any of it is read.
    """
    version = policy_for(district_code, day)
    if version is None:
        return OversightSettings(OversightPolicy(), "")
    return OversightSettings(version.to_policy().oversight, f"v{version.id}")


# --- clinic-months against their peers -------------------------------------------------


def _late_condition(hours: int | None) -> Any:
    """entered − visited_at ≥ ``hours``, in the dialect's own time arithmetic.

    ``entered`` is when the visit was entered at the terminal: its offline capture
    time if it was captured offline (the queue's wait does not count), else when
    it was recorded.  None (the policy says nothing of late entries): no visit is late.
    """
    if hours is None:
        return false()
    entered = func.coalesce(Visit.captured_at, Visit.recorded_at)
    if db.session.get_bind().dialect.name == "sqlite":
        elapsed = (func.julianday(entered) - func.julianday(Visit.visited_at)) * 24
        return elapsed >= hours
    return entered - Visit.visited_at >= dt.timedelta(hours=hours)


def district_clinics(district_code: str) -> list[Clinic]:
    return list(
        db.session.scalars(within(select(Clinic), Scope(district_code)).order_by(Clinic.code))
    )


def clinic_months(
    district_code: str, month: str, policy: OversightPolicy
) -> dict[int, ClinicMonth]:
    """Every clinic-month of the district that has a visit, by clinic id.

    Warned: the unvoided visits with a check at recording stored as a warning.
    """
    clinics = {c.id: c for c in district_clinics(district_code)}
    if not clinics:
        return {}
    live = Visit.voided_at.is_(None)

    def when(cond: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((cond, value), else_=0)), 0)

    rows = db.session.execute(
        select(
            Visit.clinic_id,
            when(live).label("visits"),
            when(live & Visit.programme).label("programme"),
            when(live, Visit.total).label("total"),
            when(live, Visit.fund).label("fund"),
            when(live, Visit.fiscal).label("fiscal"),
            when(live & Visit.injection).label("injections"),
            when(live & _late_condition(policy.late_entry_hours)).label("late"),
            when(Visit.voided_at.is_not(None)).label("voided"),
            func.count(func.distinct(case((live, Visit.patient_id_number)))).label("patients"),
            when(live, Visit.fund_base).label("fund_base"),
        )
        .where(Visit.month == month, Visit.clinic_id.in_(list(clinics)))
        .group_by(Visit.clinic_id)
    ).all()
    consultation = dict(
        db.session.execute(
            select(Visit.clinic_id, func.sum(VisitLine.fund_base))
            .join(VisitLine, (VisitLine.visit_id == Visit.id) & (VisitLine.month == Visit.month))
            .where(
                Visit.month == month,
                Visit.clinic_id.in_(list(clinics)),
                live,
                VisitLine.kind == "consultation",
            )
            .group_by(Visit.clinic_id)
        ).all()
    )
    villages = {c.village_code for c in clinics.values()}
    residents = dict(
        db.session.execute(
            select(Resident.hukou_village_code, func.count(Resident.id))
            .where(Resident.hukou_village_code.in_(villages))
            .group_by(Resident.hukou_village_code)
        ).all()
    )
    complaints = complaints_by_clinic(month)
    disowned = disowned_by_clinic(month)
    # Registered residents of the clinic's own village seen in the month.
    seen = dict(
        db.session.execute(
            select(Visit.clinic_id, func.count(func.distinct(Visit.resident_id)))
            .join(Resident, Resident.id == Visit.resident_id)
            .join(Clinic, Clinic.id == Visit.clinic_id)
            .where(
                Visit.month == month,
                Visit.clinic_id.in_(list(clinics)),
                live,
                Resident.hukou_village_code == Clinic.village_code,
            )
            .group_by(Visit.clinic_id)
        ).all()
    )
    warned = dict(
        db.session.execute(
            select(Visit.clinic_id, func.count(func.distinct(VisitCheck.visit_id)))
            .join(Visit, Visit.id == VisitCheck.visit_id)
            .where(
                Visit.month == month,
                Visit.clinic_id.in_(list(clinics)),
                Visit.voided_at.is_(None),
                VisitCheck.severity == "warn",
            )
            .group_by(Visit.clinic_id)
        ).all()
    )
    return {
        r.clinic_id: ClinicMonth(
            clinic=clinics[r.clinic_id].code,
            visits=int(r.visits),
            programme=int(r.programme),
            total=int(r.total),
            fund=int(r.fund),
            fiscal=int(r.fiscal),
            injections=int(r.injections),
            residents=int(residents.get(clinics[r.clinic_id].village_code, 0)),
            warned=int(warned.get(r.clinic_id, 0)),
            late=int(r.late),
            voided=int(r.voided),
            complaints=complaints.get(r.clinic_id, 0),
            disowned=disowned.get(r.clinic_id, 0),
            patients=int(r.patients),
            residents_seen=int(seen.get(r.clinic_id, 0)),
            fund_base=int(r.fund_base),
            consultation_base=int(consultation.get(r.clinic_id) or 0),
        )
        for r in rows
    }


def clinic_diagnoses(months: dict[int, ClinicMonth], month: str) -> list[ClinicDiagnoses]:
    """The diagnosis mix of these clinic-months (:func:`clinic_months`), for the peer flags.

    One query: the month's unvoided visits' clinic, patient and diagnosis codes
    (stored comma-separated on the visit, the main one first), counted here —
    per code, the visits carrying it and the distinct people they were for.
    """
    if not months:
        return []
    rows = db.session.execute(
        select(Visit.clinic_id, Visit.patient_id_number, Visit.diagnoses).where(
            Visit.month == month,
            Visit.clinic_id.in_(list(months)),
            Visit.voided_at.is_(None),
            Visit.diagnoses != "",
        )
    ).all()
    visits: dict[int, dict[str, int]] = {cid: {} for cid in months}
    people: dict[int, dict[str, set[str]]] = {cid: {} for cid in months}
    for clinic_id, number, codes in rows:
        for code in {c for c in (codes or "").split(",") if c}:
            visits[clinic_id][code] = visits[clinic_id].get(code, 0) + 1
            people[clinic_id].setdefault(code, set()).add(number)
    return [
        ClinicDiagnoses(
            clinic=m.clinic,
            visits=m.visits,
            residents=m.residents,
            by_code={code: (count, len(people[cid][code])) for code, count in visits[cid].items()},
        )
        for cid, m in months.items()
    ]


@dataclass(frozen=True)
class StoredFlag:
    clinic_id: int
    month: str
    figure: Figure
    value: Fraction
    median: Fraction
    mad: Fraction
    score: Fraction
    peers: int
    diagnosis: str | None = None  # the code of a diagnosis-mix flag …
    diagnosis_name: str = ""  # … and its name in the loaded diagnosis list


def _stored(row: ClinicFlag, names: dict[str, str]) -> StoredFlag:
    return StoredFlag(
        row.clinic_id,
        row.month,
        Figure(row.figure),
        Fraction(row.value),
        Fraction(row.median),
        Fraction(row.mad),
        Fraction(row.score),
        row.peers,
        row.diagnosis,
        names.get(row.diagnosis or "", ""),
    )


def flags_by_clinic(clinic_ids: list[int], month: str) -> dict[int, list[StoredFlag]]:
    """The stored flags of these clinics' month, strongest first."""
    out: dict[int, list[StoredFlag]] = {}
    if not clinic_ids:
        return out
    rows = list(
        db.session.scalars(
            select(ClinicFlag).where(
                ClinicFlag.month == month, ClinicFlag.clinic_id.in_(clinic_ids)
            )
        )
    )
    codes = {row.diagnosis for row in rows if row.diagnosis}
    names = (
        dict(
            db.session.execute(
                select(Diagnosis.code, Diagnosis.name).where(Diagnosis.code.in_(codes))
            ).all()
        )
        if codes
        else {}
    )
    for row in rows:
        out.setdefault(row.clinic_id, []).append(_stored(row, names))
    for flags in out.values():
        flags.sort(key=lambda f: -abs(f.score))
    return out


# --- the clinic's record ----------------------------------------------------------------


def past_statements(session: Any, clinic_id: int, month: str, count: int) -> list[PastStatement]:
    """The clinic's last ``count`` statements before ``month``, each clean or not.

    Clean: paid, never returned, and no visit on it disallowed by a reviewer.
    """
    rows = list(
        session.scalars(
            select(Statement)
            .where(Statement.clinic_id == clinic_id, Statement.month < month)
            .order_by(Statement.month.desc())
            .limit(count)
        )
    )
    ids = [s.id for s in rows]
    returned = set(
        session.scalars(
            select(StatementEvent.statement_id).where(
                StatementEvent.statement_id.in_(ids), StatementEvent.action == "return"
            )
        )
    )
    disallowed = set(
        session.scalars(
            select(ReviewItem.statement_id).where(
                ReviewItem.statement_id.in_(ids), ReviewItem.finding == "disallowed"
            )
        )
    )
    return [
        PastStatement(s.month, s.status == "paid" and s.id not in returned | disallowed)
        for s in rows
    ]


# --- the visits behind a flag and the worklist ------------------------------------------------

# The per-visit value a flag is about: the visits are listed by it, largest first.
VISIT_ORDER: dict[Figure, Any] = {
    Figure.COST_PER_VISIT: Visit.total.desc(),
    Figure.FUND_PER_VISIT: Visit.fund.desc(),
    Figure.FISCAL_PER_VISIT: Visit.fiscal.desc(),
    Figure.INJECTION_RATE: Visit.injection.desc(),
    Figure.VISITS_PER_RESIDENT: Visit.visit_date,
    Figure.WARNING_SHARE: Visit.visit_date,
    Figure.LATE_SHARE: (
        func.coalesce(Visit.captured_at, Visit.recorded_at) - Visit.visited_at
    ).desc(),
    Figure.VOID_SHARE: Visit.voided_at.is_(None),
    Figure.COMPLAINT_SHARE: Visit.visit_date,
    Figure.DISOWNED_SHARE: Visit.visit_date,
    # The same person's visits together: repeats show as runs.
    Figure.VISITS_PER_PATIENT: Visit.patient_id_number,
    Figure.RESIDENTS_SEEN_SHARE: Visit.patient_id_number,
    Figure.DIAGNOSIS_SHARE: Visit.patient_id_number,
    Figure.DIAGNOSIS_PREVALENCE: Visit.patient_id_number,
}


def carries_diagnosis(code: str) -> Any:
    """The visit carries ``code`` among its diagnoses (stored comma-separated)."""
    listed = literal(",") + Visit.diagnoses + literal(",")
    return listed.contains(f",{code},", autoescape=True)


def _behind(
    figure: Figure,
    median: Fraction | None,
    late_entry_hours: int | None,
    diagnosis: str | None = None,
) -> Any:
    """Which visits make up a flag on ``figure``: those that push the figure up.

    Money per visit: the visits above the district median (the median is per
    visit, so these are what lifts the average); a share: the visits counted
    in it (with an injection, a warning, entered late, voided, complained of).
    Visits per resident: every visit (each counts).
    """
    live = Visit.voided_at.is_(None)
    if figure in DIAGNOSIS_FIGURES:
        # A diagnosis-mix flag: the visits with that diagnosis, main or not.
        return [live, carries_diagnosis(diagnosis or "")]
    above = {
        Figure.COST_PER_VISIT: Visit.total,
        Figure.FUND_PER_VISIT: Visit.fund,
        Figure.FISCAL_PER_VISIT: Visit.fiscal,
    }
    if figure in above:
        column = above[figure]
        extra = [Visit.programme.is_(True)] if figure is Figure.FISCAL_PER_VISIT else []
        # The median is exact (a fraction of fen): a visit above it is above its floor.
        floor = median.numerator // median.denominator if median is not None else -1
        return [live, column > floor, *extra]
    if figure is Figure.INJECTION_RATE:
        return [live, Visit.injection.is_(True)]
    if figure is Figure.WARNING_SHARE:
        return [live, Visit.id.in_(select(VisitCheck.visit_id))]
    if figure is Figure.LATE_SHARE:
        return [live, _late_condition(late_entry_hours)]
    if figure is Figure.VOID_SHARE:
        return [Visit.voided_at.is_not(None)]
    if figure is Figure.COMPLAINT_SHARE:
        return [Visit.id.in_(select(ReceiptFeedback.visit_id).where(ReceiptFeedback.asked_more))]
    if figure is Figure.DISOWNED_SHARE:
        return [live, Visit.id.in_(select(VisitDisowned.visit_id))]
    # Per patient seen or share of the village seen: every visit, grouped by patient
    # (VISIT_ORDER), so the people billed again and again stand together.
    return [live]


def clinic_month_visits(
    clinic_id: int,
    month: str,
    figure: Figure | None,
    median: Fraction | None = None,
    late_entry_hours: int | None = None,
    diagnosis: str | None = None,
) -> list[Visit]:
    """The clinic-month's visits; with a flag's ``figure``, only those behind it, worst first
    (a diagnosis-mix flag's: the visits carrying its ``diagnosis``, by patient)."""
    order = VISIT_ORDER.get(figure, Visit.visit_date) if figure else Visit.visit_date
    if figure is Figure.LATE_SHARE and db.session.get_bind().dialect.name == "sqlite":
        entered = func.coalesce(Visit.captured_at, Visit.recorded_at)
        order = (func.julianday(entered) - func.julianday(Visit.visited_at)).desc()
    where = _behind(figure, median, late_entry_hours, diagnosis) if figure else []
    return list(
        db.session.scalars(
            select(Visit)
            .where(Visit.clinic_id == clinic_id, Visit.month == month, *where)
            .order_by(order, Visit.id)
        )
    )


def complaints(visit_ids: list[int]) -> dict[int, list[ReceiptFeedback]]:
    """Each visit's answers "asked to pay more": when, and what the patient says he paid."""
    out: dict[int, list[ReceiptFeedback]] = {}
    if not visit_ids:
        return out
    for row in db.session.scalars(
        select(ReceiptFeedback)
        .where(ReceiptFeedback.visit_id.in_(visit_ids), ReceiptFeedback.asked_more)
        .order_by(ReceiptFeedback.visit_id, ReceiptFeedback.id)
    ):
        out.setdefault(row.visit_id, []).append(row)
    return out


def worklist(statement_id: int) -> list[ReviewItem]:
    return list(
        db.session.scalars(
            select(ReviewItem)
            .where(ReviewItem.statement_id == statement_id)
            .order_by(ReviewItem.visit_id)
        )
    )


def open_items(session: Any, statement_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(ReviewItem.id)).where(
                ReviewItem.statement_id == statement_id, ReviewItem.finding.is_(None)
            )
        )
        or 0
    )


def late_or_complained(
    session: Any,
    clinic_id: int,
    month: str,
    policy: OversightPolicy,
    stock: dict[int, list[str]] | None = None,
) -> dict[int, tuple[str, ...]]:
    """The month's visits a rule points at: a check fired, entered late, a stock flag
    (``stock``, from app.stock: dispensed beyond the stock, far above deliveries, a
    traceability code twice), or a complaint."""
    out: dict[int, list[str]] = {}
    fired = session.execute(
        select(VisitCheck.visit_id, VisitCheck.rule)
        .join(Visit, Visit.id == VisitCheck.visit_id)
        .where(Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None))
        .distinct()
        .order_by(VisitCheck.visit_id, VisitCheck.rule)
    )
    for visit_id, rule in fired:
        out.setdefault(visit_id, []).append(rule)
    late = session.scalars(
        select(Visit.id).where(
            Visit.clinic_id == clinic_id,
            Visit.month == month,
            Visit.voided_at.is_(None),
            _late_condition(policy.late_entry_hours),
        )
    )
    for visit_id in late:
        if "late_entry" not in out.get(visit_id, []):
            out.setdefault(visit_id, []).append("late_entry")
    for visit_id, kinds in (stock or {}).items():
        out.setdefault(visit_id, []).extend(kinds)
    complained = session.scalars(
        select(func.distinct(ReceiptFeedback.visit_id))
        .join(Visit, Visit.id == ReceiptFeedback.visit_id)
        .where(Visit.clinic_id == clinic_id, Visit.month == month, ReceiptFeedback.asked_more)
    )
    for visit_id in complained:
        out.setdefault(visit_id, []).append("complaint")
    return {k: tuple(v) for k, v in out.items()}


def _last_events(action: str, statement_ids: list[int]) -> dict[int, StatementEvent]:
    """The last event of ``action`` of each statement."""
    out: dict[int, StatementEvent] = {}
    if not statement_ids:
        return out
    rows = db.session.scalars(
        select(StatementEvent)
        .where(StatementEvent.statement_id.in_(statement_ids), StatementEvent.action == action)
        .order_by(StatementEvent.id)
    )
    for event in rows:
        out[event.statement_id] = event
    return out


def system_reviewed(district_code: str, month: str, town_code: str | None = None) -> int:
    """How many of the district-month's reviewed statements the system reviewed (credit-first)."""
    query = within(
        select(Statement.id)
        .join(Clinic, Clinic.id == Statement.clinic_id)
        .where(Statement.month == month, Statement.status == "reviewed"),
        Scope(district_code, town_code),
    )
    ids = list(db.session.scalars(query))
    return sum(1 for e in _last_events("review", ids).values() if e.actor_id is None)


def system_submitted(clinic_id: int) -> dict[str, StatementEvent]:
    """The clinic's months still submitted (unreviewed) whose submission was the system's."""
    rows = list(
        db.session.scalars(
            select(Statement).where(
                Statement.clinic_id == clinic_id, Statement.status == "submitted"
            )
        )
    )
    events = _last_events("submit", [s.id for s in rows])
    return {s.month: events[s.id] for s in rows if s.id in events and events[s.id].actor_id is None}


def open_statements_of(district_code: str, month: str) -> list[str]:
    """Codes of the district's clinics whose statement of ``month`` is still open."""
    return list(
        db.session.scalars(
            within(
                select(Clinic.code)
                .join(Statement, Statement.clinic_id == Clinic.id)
                .where(Statement.month == month, Statement.status == "open"),
                Scope(district_code),
            ).order_by(Clinic.code)
        )
    )


# --- checks at recording ---------------------------------------------------------------


@dataclass(frozen=True)
class MonthChecks:
    """A clinic-month's checks at recording: visits warned, hits per rule, the hits."""

    warned: int = 0  # unvoided visits with at least one stored check
    by_rule: dict[str, int] = field(default_factory=dict)  # unvoided visits per rule
    visits: list[tuple[Visit, list[VisitCheck]]] = field(default_factory=list)


def month_checks(clinic_id: int, month: str) -> MonthChecks:
    """Two queries: the month's unvoided visits' checks with their visits, and their lines."""
    rows = db.session.execute(
        select(VisitCheck, Visit)
        .join(Visit, Visit.id == VisitCheck.visit_id)
        .where(Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None))
        .order_by(Visit.visited_at, Visit.id, VisitCheck.id)
        .options(selectinload(Visit.lines))  # the items' names, for the words
    ).all()
    grouped: dict[int, tuple[Visit, list[VisitCheck]]] = {}
    rules: dict[str, set[int]] = {}
    for check, visit in rows:
        grouped.setdefault(visit.id, (visit, []))[1].append(check)
        rules.setdefault(check.rule, set()).add(visit.id)
    return MonthChecks(
        warned=len(grouped),
        by_rule={rule: len(ids) for rule, ids in sorted(rules.items())},
        visits=list(grouped.values()),
    )


def month_check_counts(clinic_id: int, month: str) -> MonthChecks:
    """:func:`month_checks`' counts alone (``visits`` left empty), in one query.

    Reads the month's checks of the clinic's unvoided visits as distinct
    ``(visit, rule)`` pairs — the checks' rows, not the month's visits — for
    the API, which answers the counts and not the visits one by one.
    """
    rows = db.session.execute(
        select(VisitCheck.visit_id, VisitCheck.rule)
        .join(Visit, (Visit.id == VisitCheck.visit_id) & (Visit.month == VisitCheck.visit_month))
        .where(
            VisitCheck.visit_month == month,
            Visit.clinic_id == clinic_id,
            Visit.month == month,
            Visit.voided_at.is_(None),
        )
        .distinct()
    ).all()
    rules: dict[str, int] = {}
    for _, rule in rows:
        rules[rule] = rules.get(rule, 0) + 1
    return MonthChecks(
        warned=len({visit_id for visit_id, _ in rows}),
        by_rule=dict(sorted(rules.items())),
    )
