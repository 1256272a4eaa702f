"""Read-only views of statements and district summaries; nothing here writes.

Guarantees:

* an open month's figures are live: summed from the rollups the recording
  path keeps equal to the visits (``clinic_day`` for figures and days,
  ``clinic_month_item`` for items; PostgreSQL checks the day rollup against
  its visits at every commit), so a statement or a summary reads clinics ×
  days rows and never the month's visits; a frozen month's figures are the
  ones stored at submit, and :func:`verify_statement` proves they still equal
  the aggregation over the visits themselves;
* the district summary lists every clinic that was in the programme on at
  least one day of the month (with or without visits) plus any other clinic
  of the district with a statement row for the month (it had visits — fund
  only, no backstop — or submitted an empty month), so the list is the same
  before and after submission; its totals are the sums of its
  rows and ``outstanding`` is the backstop not yet paid;
* scope is checked here as in the operations: a doctor sees only his clinic,
  reviewers and finance only their district (or town);
* :func:`statement_views` builds the statements of any number of clinics in
  a constant number of queries (statements, events, days, items) — the month
  close of a city is not one round of queries per clinic;
* :func:`visit_detail_rows` lists a clinic's or a district's month visit by
  visit — exactly the unvoided visits the statements sum — through a
  server-side cursor, a batch at a time, so a city's month never sits in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import contains_eager

from app.auth.access import can_see_district, require_clinic_visible
from app.auth.models import User, person_name
from app.catalog.models import Diagnosis
from app.errors import Forbidden, NotFound, Problem, ProblemCode
from app.extensions import db
from app.insurance.queries import platform_adjustments
from app.localtime import month_bounds
from app.oversight.queries import MonthChecks, month_check_counts, month_checks
from app.places.models import Clinic, District, Town, Village
from app.places.queries import Scope, clinic_by_code, clinic_ids, within
from app.settlement.figures import (
    FIGURE_FIELDS,
    Figures,
    ItemFigures,
    MonthFigures,
    figures_by_month,
    month_close,
    month_figures,
    rollup_figures,
    stored_figures,
)
from app.settlement.models import Statement, StatementAdjustment, StatementEvent
from app.settlement.rules import Action, Status, compare_figures, require_month, shown_status
from app.visits.models import Visit


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    from_status: str
    to_status: str
    actor: str
    at: dt.datetime
    reason: str


@dataclass(frozen=True)
class Paid:
    paid_on: dt.date
    reference: str
    amount: int


def _paid(statement: Statement | None) -> Paid | None:
    if statement is None or statement.paid_on is None or statement.paid_amount is None:
        return None
    return Paid(statement.paid_on, statement.payment_reference or "", statement.paid_amount)


# An adjustment line's source (StatementAdjustment.source): the fund
# reconciliation's, or a reviewer's disallowance (核减).
ADJUSTMENT_FROM_FUND = "fund"
ADJUSTMENT_FROM_REVIEW = "review"


@dataclass(frozen=True)
class AdjustmentView:
    """A line that changes the statement's backstop (SPEC §7), as printed."""

    receipt_number: str
    belongs_to: str
    source: str
    outcome: str
    reason: str
    fund_computed: int
    fund_paid: int
    amount: int


def _adjustments(
    clinic_ids: list[int] | Select[tuple[int]], month: str
) -> dict[int, list[AdjustmentView]]:
    """The month's adjustment lines of ``clinic_ids`` (a list, or a ``SELECT`` of ids)."""
    out: dict[int, list[AdjustmentView]] = {}
    if not isinstance(clinic_ids, Select) and not clinic_ids:
        return out
    for row in db.session.scalars(
        select(StatementAdjustment)
        .where(
            StatementAdjustment.clinic_id.in_(clinic_ids),
            StatementAdjustment.statement_month == month,
        )
        .order_by(StatementAdjustment.clinic_id, StatementAdjustment.id)
    ):
        out.setdefault(row.clinic_id, []).append(
            AdjustmentView(
                row.receipt_number,
                row.belongs_to,
                row.source,
                row.outcome,
                row.reason,
                row.fund_computed,
                row.fund_paid,
                row.amount,
            )
        )
    # The platform's settlements (real-time way), through their one reader.
    for p in platform_adjustments(clinic_ids, month):
        out.setdefault(p.clinic_id, []).append(
            AdjustmentView(
                p.receipt_number,
                p.belongs_to,
                "platform",
                "different",
                p.why,
                p.fund_computed,
                p.fund_paid,
                p.amount,
            )
        )
    return out


@dataclass(frozen=True)
class StatementView:
    clinic: Clinic
    month: str
    status: str
    figures: Figures
    frozen: bool
    days: list[tuple[dt.date, Figures]]
    items: list[ItemFigures]
    history: list[HistoryEntry]
    paid: Paid | None
    adjustments: list[AdjustmentView] = field(default_factory=list)
    # The checks at recording of the month's visits (one clinic's view only).
    checks: MonthChecks = field(default_factory=MonthChecks)
    # The month's most frequent main diagnoses (top_diagnoses).
    diagnoses: list[DiagnosisCount] = field(default_factory=list)
    # Who recorded the month's visits, by the names papers show (month_doctors).
    doctors: list[str] = field(default_factory=list)

    @property
    def adjustment_total(self) -> int:
        """Both kinds of line together: the fund reconciliation's and the reviewer's."""
        return sum(a.amount for a in self.adjustments)

    @property
    def fund_adjustment(self) -> int:
        """医保对账调整: the fund reconciliation's lines."""
        return sum(a.amount for a in self.adjustments if a.source == ADJUSTMENT_FROM_FUND)

    @property
    def review_deduction(self) -> int:
        """审核核减: the reviewer's disallowances (negative)."""
        return self.adjustment_total - self.fund_adjustment

    @property
    def shown_status(self) -> str:
        """``returned`` while a returned statement is open again, else :attr:`status`."""
        return shown_status(self.status, self.history[-1].action if self.history else None)

    @property
    def backstop_due(self) -> int:
        """The backstop as recorded plus the adjustment lines: what finance pays."""
        return self.figures.fiscal + self.adjustment_total


def statement_row(clinic_id: int, month: str) -> Statement | None:
    return db.session.scalar(
        select(Statement).where(Statement.clinic_id == clinic_id, Statement.month == month)
    )


# The name a history line shows when the system moved the statement (actor NULL).
SYSTEM_ACTOR = "system"


def _actor_name(user: User | None) -> str:
    """A history line's actor by the name papers show, never the login name."""
    return SYSTEM_ACTOR if user is None else user.shown_name or SYSTEM_ACTOR


def _history(statement: Statement | None) -> list[HistoryEntry]:
    if statement is None:
        return []
    rows = db.session.execute(
        select(StatementEvent, User)
        .outerjoin(User, User.id == StatementEvent.actor_id)
        .where(StatementEvent.statement_id == statement.id)
        .order_by(StatementEvent.id)
    ).all()
    return [
        HistoryEntry(e.action, e.from_status, e.to_status, _actor_name(u), e.at, e.reason)
        for e, u in rows
    ]


def visible_clinic(clinic_code: str, viewer: User | None) -> Clinic:
    """The clinic, if ``viewer`` may see it; ``None`` is the server operator (CLI)."""
    clinic = clinic_by_code(clinic_code, missing=NotFound)
    if viewer is not None:
        require_clinic_visible(viewer, clinic)
    return clinic


def statement_view(
    clinic_code: str, month: str, viewer: User | None, *, papers: bool = True
) -> StatementView:
    """One clinic's month, its figures, days and items read from the rollups.

    An open month's figures are the sum of its days in the ``clinic_day``
    rollup (:func:`month_close`, which the recording path keeps equal to the
    visits); a frozen month's are the stored ones.  ``papers=False`` (the API)
    leaves out what only the page and the papers print — the top diagnoses,
    the doctors and the warned visits one by one — and counts the checks from
    their own rows: nothing then reads the month's visits.
    """
    require_month(month)
    clinic = visible_clinic(clinic_code, viewer)
    statement = statement_row(clinic.id, month)
    stored = stored_figures(statement) if statement is not None else None
    # A frozen month's visits cannot change, so its breakdowns stay live.
    live = month_close([clinic.id], month).get(clinic.id, MonthFigures())
    return StatementView(
        clinic=clinic,
        month=month,
        status=statement.status if statement else Status.OPEN.value,
        figures=stored if stored is not None else live.figures,
        frozen=stored is not None,
        days=live.days,
        items=live.items,
        history=_history(statement),
        paid=_paid(statement),
        adjustments=_adjustments([clinic.id], month).get(clinic.id, []),
        checks=month_checks(clinic.id, month) if papers else month_check_counts(clinic.id, month),
        diagnoses=top_diagnoses([clinic.id], month).get(clinic.id, []) if papers else [],
        doctors=month_doctors([clinic.id], month).get(clinic.id, []) if papers else [],
    )


def _histories(statement_ids: list[int]) -> dict[int, list[HistoryEntry]]:
    out: dict[int, list[HistoryEntry]] = {}
    if not statement_ids:
        return out
    rows = db.session.execute(
        select(StatementEvent, User)
        .outerjoin(User, User.id == StatementEvent.actor_id)
        .where(StatementEvent.statement_id.in_(statement_ids))
        .order_by(StatementEvent.statement_id, StatementEvent.id)
    ).all()
    for e, u in rows:
        out.setdefault(e.statement_id, []).append(
            HistoryEntry(e.action, e.from_status, e.to_status, _actor_name(u), e.at, e.reason)
        )
    return out


def statement_views(clinics: Sequence[Clinic], month: str) -> list[StatementView]:
    """The month's statements of ``clinics`` (already checked visible), in their order.

    Seven queries whatever the number of clinics: the statement rows, their
    events, their adjustment lines, :func:`month_close`'s days (the clinic-day
    rollup) and items (the clinic-month item rollup), the top diagnoses
    (:func:`top_diagnoses`) and the doctors (:func:`month_doctors`), the two
    that group the month's visits.
    Each view equals what :func:`statement_view` gives for that clinic.
    """
    require_month(month)
    ids = [c.id for c in clinics]
    if not ids:
        return []
    statements = {
        s.clinic_id: s
        for s in db.session.scalars(
            select(Statement).where(Statement.clinic_id.in_(ids), Statement.month == month)
        )
    }
    histories = _histories([s.id for s in statements.values()])
    adjustments = _adjustments(ids, month)
    close = month_close(ids, month)
    diagnoses = top_diagnoses(ids, month)
    doctors = month_doctors(ids, month)
    views = []
    for clinic in clinics:
        statement = statements.get(clinic.id)
        stored = stored_figures(statement) if statement is not None else None
        live = close.get(clinic.id)
        views.append(
            StatementView(
                clinic=clinic,
                month=month,
                status=statement.status if statement else Status.OPEN.value,
                figures=stored if stored is not None else (live.figures if live else Figures()),
                frozen=stored is not None,
                days=live.days if live else [],
                items=live.items if live else [],
                history=histories.get(statement.id, []) if statement is not None else [],
                paid=_paid(statement),
                adjustments=adjustments.get(clinic.id, []),
                diagnoses=diagnoses.get(clinic.id, []),
                doctors=doctors.get(clinic.id, []),
            )
        )
    return views


def district_statements(
    district_code: str, month: str, viewer: User | None, batch: int = 500
) -> Iterator[list[StatementView]]:
    """Every statement of the district summary's clinics, ``batch`` clinics at a time.

    Memory holds one batch of views; each batch costs the same five queries.
    """
    summary = district_summary(district_code, month, viewer)
    clinics = [line.clinic for line in summary.lines]
    for start in range(0, len(clinics), batch):
        yield statement_views(clinics[start : start + batch], month)


# --- the district summary --------------------------------------------------------


@dataclass(frozen=True)
class SummaryLine:
    clinic: Clinic
    status: str
    figures: Figures
    paid: Paid | None
    adjustment_total: int = 0
    returned_reason: str | None = None  # set while a returned statement is open again
    # The part of adjustment_total that reviewers disallowed (审核核减, negative).
    review_deduction: int = 0

    @property
    def fund_adjustment(self) -> int:
        """医保对账调整: the fund reconciliation's part of adjustment_total."""
        return self.adjustment_total - self.review_deduction

    @property
    def backstop_due(self) -> int:
        """Recorded backstop plus the reconciliation's adjustment lines."""
        return self.figures.fiscal + self.adjustment_total

    @property
    def shown_status(self) -> str:
        """``returned`` while a returned statement is open again, else :attr:`status`."""
        return shown_status(
            self.status, Action.RETURN.value if self.returned_reason is not None else None
        )


@dataclass(frozen=True)
class DistrictSummary:
    district: District
    month: str
    town: Town | None
    lines: list[SummaryLine]
    totals: Figures = field(default_factory=Figures)

    @property
    def paid(self) -> int:
        return sum(line.paid.amount for line in self.lines if line.paid)

    @property
    def adjustment_total(self) -> int:
        return sum(line.adjustment_total for line in self.lines)

    @property
    def fund_adjustment(self) -> int:
        return sum(line.fund_adjustment for line in self.lines)

    @property
    def review_deduction(self) -> int:
        return sum(line.review_deduction for line in self.lines)

    @property
    def payable_fiscal(self) -> int:
        return sum(line.figures.fiscal for line in self.payable)

    @property
    def payable_fund_adjustment(self) -> int:
        return sum(line.fund_adjustment for line in self.payable)

    @property
    def payable_review_deduction(self) -> int:
        return sum(line.review_deduction for line in self.payable)

    @property
    def backstop_due(self) -> int:
        return self.totals.fiscal + self.adjustment_total

    @property
    def outstanding(self) -> int:
        """Backstop of the month not yet paid (adjustments included), whatever the state."""
        return self.backstop_due - self.paid

    @property
    def payable(self) -> list[SummaryLine]:
        return [line for line in self.lines if line.status == Status.REVIEWED.value]

    @property
    def payable_amount(self) -> int:
        return sum(line.backstop_due for line in self.payable)

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)

    def shown_count(self, status: str) -> int:
        """Lines per shown status: a returned month counts as 已退回, not 未提交."""
        return sum(1 for line in self.lines if line.shown_status == status)


def _return_reasons(statements: Sequence[Statement]) -> dict[int, str]:
    """Each open statement whose last step was a return -> that return's reason.

    One query for the whole month (none when no statement is open), whatever the
    number of clinics: the last event of each open statement, kept if it is a return.
    """
    open_ids = [s.id for s in statements if s.status == Status.OPEN.value]
    if not open_ids:
        return {}
    last = (
        select(func.max(StatementEvent.id))
        .where(StatementEvent.statement_id.in_(open_ids))
        .group_by(StatementEvent.statement_id)
    )
    rows = db.session.execute(
        select(StatementEvent.statement_id, StatementEvent.reason).where(
            StatementEvent.id.in_(last), StatementEvent.action == Action.RETURN.value
        )
    )
    return {statement_id: reason for statement_id, reason in rows}


def _district_clinics(district_code: str, month: str, town_code: str | None) -> list[Clinic]:
    start, end = month_bounds(month)
    # Any clinic with a statement row for the month (every month with a visit
    # has one) is listed too, so the list does not change when a month is submitted.
    with_statement = select(Statement.clinic_id).where(Statement.month == month)
    query = within(
        select(Clinic)
        # Every line prints its town and district: loaded with the clinic, not one by one.
        .options(
            contains_eager(Clinic.village).contains_eager(Village.town).joinedload(Town.district)
        ),
        Scope(district_code, town_code),
    )
    query = query.where(
        or_(
            # In the programme on at least one day of the month.
            and_(
                Clinic.joined_on.is_not(None),
                Clinic.joined_on < end,
                or_(Clinic.left_on.is_(None), Clinic.left_on > start),
            ),
            Clinic.id.in_(with_statement),
        ),
    ).order_by(Clinic.code)
    return list(db.session.scalars(query))


def _visible_district(district_code: str, viewer: User | None) -> District:
    district = db.session.get(District, district_code)
    if district is None:
        raise NotFound(
            Problem("district", f"unknown district {district_code!r}", ProblemCode.UNKNOWN_DISTRICT)
        )
    if viewer is not None and not can_see_district(viewer, district_code):
        raise Forbidden(
            Problem(
                "district", f"district {district_code} is outside your scope", ProblemCode.SCOPE
            )
        )
    return district


def district_summary(district_code: str, month: str, viewer: User | None) -> DistrictSummary:
    """The month's summary as ``viewer`` may see it (``None``: the CLI operator).

    A constant number of queries whatever the number of clinics and visits:
    clinics, statements, adjustment lines, the open statements' last steps (a
    returned month shows as 已退回) and the open months' figures, summed from
    the ``clinic_day`` rollup (:func:`rollup_figures`: clinics × days rows,
    never a visit).
    """
    require_month(month)
    district = _visible_district(district_code, viewer)
    town_code = viewer.town_code if viewer is not None else None
    town = db.session.get(Town, town_code) if town_code else None
    clinics = _district_clinics(district_code, month, town_code)
    # The scope's clinic ids as a subquery, not a list of a parameter per clinic: the
    # rows of the scope's other clinics, if any, are read and not used.
    ids = clinic_ids(Scope(district_code, town_code))
    statements = {
        s.clinic_id: s
        for s in db.session.scalars(
            select(Statement).where(Statement.clinic_id.in_(ids), Statement.month == month)
        )
    }
    lines_of = _adjustments(ids, month)
    adjustments = {clinic_id: sum(a.amount for a in lines) for clinic_id, lines in lines_of.items()}
    deductions = {
        clinic_id: sum(a.amount for a in lines if a.source == ADJUSTMENT_FROM_REVIEW)
        for clinic_id, lines in lines_of.items()
    }
    returned = _return_reasons(list(statements.values()))
    live = rollup_figures(ids, month)  # used for the open months only
    lines = []
    for clinic in clinics:
        statement = statements.get(clinic.id)
        stored = stored_figures(statement) if statement is not None else None
        lines.append(
            SummaryLine(
                clinic=clinic,
                status=statement.status if statement else Status.OPEN.value,
                figures=stored if stored is not None else live.get(clinic.id, Figures()),
                paid=_paid(statement),
                adjustment_total=adjustments.get(clinic.id, 0),
                returned_reason=returned.get(statement.id) if statement is not None else None,
                review_deduction=deductions.get(clinic.id, 0),
            )
        )
    totals = sum((line.figures for line in lines), Figures())
    return DistrictSummary(district, month, town, lines, totals)


# --- the month's visits one by one (the statements' detail) ------------------------


@dataclass(frozen=True)
class DiagnosisCount:
    """One main diagnosis of a clinic's month: how many visits had it."""

    code: str
    name: str
    visits: int


TOP_DIAGNOSES = 10  # rows of a statement's top-diagnoses table


def top_diagnoses(clinic_ids: Sequence[int], month: str) -> dict[int, list[DiagnosisCount]]:
    """Per clinic, the month's most frequent main diagnoses (non-voided visits), one query.

    The most visits first, then by code; visits without a diagnosis are left
    out.  The name is the list's, or the code alone when the list no longer has it.
    """
    if not clinic_ids:
        return {}
    visits = func.count().label("visits")
    rows = db.session.execute(
        select(Visit.clinic_id, Visit.main_diagnosis, Diagnosis.name, visits)
        .outerjoin(Diagnosis, Diagnosis.code == Visit.main_diagnosis)
        .where(
            Visit.clinic_id.in_(clinic_ids),
            Visit.month == month,
            Visit.voided_at.is_(None),
            Visit.main_diagnosis.is_not(None),
        )
        .group_by(Visit.clinic_id, Visit.main_diagnosis, Diagnosis.name)
        .order_by(Visit.clinic_id, visits.desc(), Visit.main_diagnosis)
    )
    out: dict[int, list[DiagnosisCount]] = {}
    for clinic_id, code, name, count in rows:
        top = out.setdefault(clinic_id, [])
        if len(top) < TOP_DIAGNOSES:
            top.append(DiagnosisCount(str(code), str(name or code), int(count)))
    return out


def month_doctors(clinic_ids: Sequence[int], month: str) -> dict[int, list[str]]:
    """Per clinic, who recorded the month's non-voided visits: shown names, by name."""
    if not clinic_ids:
        return {}
    rows = db.session.execute(
        select(Visit.clinic_id, User.display_name, User.practitioner_code)
        .join(User, User.id == Visit.recorded_by_id)
        .where(Visit.clinic_id.in_(clinic_ids), Visit.month == month, Visit.voided_at.is_(None))
        .group_by(Visit.clinic_id, User.display_name, User.practitioner_code)
        .order_by(Visit.clinic_id, User.display_name)
    )
    out: dict[int, list[str]] = {}
    for clinic_id, display_name, code in rows:
        out.setdefault(clinic_id, []).append(person_name(display_name, code))
    return out


@dataclass(frozen=True)
class VisitDetail:
    """Which visits a detail export lists; scope already checked when it exists."""

    scope: str  # the clinic's, town's or district's code: what the file is named after
    month: str
    where: tuple[Any, ...]


def clinic_visit_detail(clinic_code: str, month: str, viewer: User | None) -> VisitDetail:
    """A clinic's month visit by visit, if ``viewer`` may see the clinic."""
    require_month(month)
    clinic = visible_clinic(clinic_code, viewer)
    return VisitDetail(clinic.code, month, (Visit.clinic_id == clinic.id,))


def district_visit_detail(district_code: str, month: str, viewer: User | None) -> VisitDetail:
    """The district's (or the viewer's town's) month visit by visit: the summary's visits."""
    require_month(month)
    _visible_district(district_code, viewer)
    town_code = viewer.town_code if viewer is not None else None
    clinics = clinic_ids(Scope(district_code, town_code))
    return VisitDetail(town_code or district_code, month, (Clinic.id.in_(clinics),))


def visit_detail_query(detail: VisitDetail) -> Select[*tuple[Any, ...]]:
    """The unvoided visits of ``detail`` (what the statements sum), by clinic and time.

    Each row's money columns are named after the statement figure they add to.
    """
    return (
        select(
            Visit.receipt_number,
            Clinic.code.label("clinic_code"),
            Clinic.name.label("clinic_name"),
            Visit.visit_date,
            Visit.visited_at,
            Visit.patient_id_number,
            Visit.diagnoses,
            Visit.diagnosis_names,
            Visit.programme,
            Visit.injection.label("injected"),
            Visit.total,
            Visit.in_scope,
            Visit.fund,
            Visit.fiscal,
            Visit.registration,
            Visit.injection_fee.label("injection"),
            Visit.copay,
            Visit.self_pay,
            Visit.patient,
        )
        .join(Clinic, Clinic.id == Visit.clinic_id)
        .where(Visit.month == detail.month, Visit.voided_at.is_(None), *detail.where)
        .order_by(Clinic.code, Visit.visited_at, Visit.id)
    )


def visit_detail_rows(detail: VisitDetail, batch: int = 2000) -> Iterator[Any]:
    """:func:`visit_detail_query`'s rows, ``batch`` at a time.

    Read through a server-side cursor (``yield_per``: PostgreSQL's named
    cursor, SQLite's lazy one) as plain rows, never ORM objects: memory holds
    one batch whatever the number of visits.
    """
    query = visit_detail_query(detail).execution_options(yield_per=batch)
    for rows in db.session.execute(query).partitions():
        yield from rows


# --- months, charts, verification ---------------------------------------------------


@dataclass(frozen=True)
class MonthLine:
    month: str
    status: str
    figures: Figures
    paid: Paid | None
    last: HistoryEntry | None = None  # the statement's last step, if any

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.last.action if self.last else None)


def clinic_months(clinic: Clinic, months: list[str]) -> list[MonthLine]:
    """The given months of one clinic, newest first, plus every month with a statement."""
    statements = {
        s.month: s
        for s in db.session.scalars(select(Statement).where(Statement.clinic_id == clinic.id))
    }
    wanted = sorted(set(months) | set(statements), reverse=True)
    histories = _histories([s.id for s in statements.values()])
    live_months = [m for m in wanted if stored_figures(statements.get(m)) is None]
    live = figures_by_month(clinic.id, live_months) if live_months else {}
    lines = []
    for month in wanted:
        statement = statements.get(month)
        stored = stored_figures(statement) if statement is not None else None
        lines.append(
            MonthLine(
                month=month,
                status=statement.status if statement else Status.OPEN.value,
                figures=stored if stored is not None else live.get(month, Figures()),
                paid=_paid(statement),
                last=histories[statement.id][-1]
                if statement is not None and histories.get(statement.id)
                else None,
            )
        )
    return lines


def paid_by_month(district_code: str, months: list[str], town_code: str | None) -> dict[str, int]:
    """Backstop paid per settlement month (fen) in a district or town."""
    query = within(
        select(Statement.month, func.sum(Statement.paid_amount).label("paid"))
        .join(Clinic, Clinic.id == Statement.clinic_id)
        .where(Statement.month.in_(months), Statement.status == Status.PAID.value)
        .group_by(Statement.month),
        Scope(district_code, town_code),
    )
    found = {row.month: int(row.paid) for row in db.session.execute(query)}
    return {month: found.get(month, 0) for month in months}


def previous_months(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first."""
    year, mon = (int(p) for p in month.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


@dataclass(frozen=True)
class Verification:
    clinic: str
    month: str
    status: str
    checked: bool  # False while open: nothing is stored yet to check
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_statement(clinic_code: str, month: str) -> Verification:
    """Prove a frozen statement's stored figures equal the live SQL figures to the fen."""
    require_month(month)
    clinic = clinic_by_code(clinic_code, missing=NotFound)
    statement = statement_row(clinic.id, month)
    stored = stored_figures(statement) if statement is not None else None
    status = statement.status if statement else Status.OPEN.value
    if stored is None:
        return Verification(clinic.code, month, status, False, [])
    live = month_figures(clinic.id, month)
    problems = compare_figures(
        {n: getattr(stored, n) for n in FIGURE_FIELDS},
        {n: getattr(live, n) for n in FIGURE_FIELDS},
    )
    paid = statement is not None and statement.status == Status.PAID.value
    adjusted = sum(a.amount for a in _adjustments([clinic.id], month).get(clinic.id, []))
    due = live.fiscal + adjusted
    if paid and statement is not None and statement.paid_amount != due:
        problems.append(
            Problem(
                "paid_amount",
                f"paid {statement.paid_amount} but due {due}",
                ProblemCode.FIGURES_MISMATCH,
            )
        )
    if paid and statement is not None and statement.paid_adjustments != adjusted:
        # An adjustment line added, changed or removed after the payment.
        problems.append(
            Problem(
                "adjustments",
                f"paid with adjustments {statement.paid_adjustments}; the lines sum to {adjusted}",
                ProblemCode.FIGURES_MISMATCH,
            )
        )
    return Verification(clinic.code, month, status, True, problems)
