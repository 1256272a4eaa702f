"""Reading the platform's settlements: a visit's, a statement's pending ones, its lines.

:func:`platform_adjustments` is the single reader through which a settled
visit's difference reaches every statement figure (page, PDF, CSV/XLSX,
district summary, payment): app.settlement.queries adds its rows to the
statement's adjustment lines.  Why a reader rather than written
``statement_adjustment`` rows: the settlement is made by the recording path,
which sits below the statements and cannot write their lines, and after an
outage it lands minutes or days later; the settlement row already holds both
figures, the reason and the statement month it belongs on, so one reader
keeps one source of truth (no second row to keep equal to it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.insurance import rules
from app.insurance.models import InsuranceExchange, InsuranceSettlement
from app.places.models import Clinic


def settlement_for_visit(visit_id: int) -> InsuranceSettlement | None:
    return db.session.scalar(
        select(InsuranceSettlement).where(InsuranceSettlement.visit_id == visit_id)
    )


def pre_settlement_differences(row: InsuranceSettlement) -> tuple[str, ...]:
    """Why the pre-settlement's (2206) fund is not the expected one (rules.differences codes).

    Read from what 2204 answered per line; empty when 2206 has not answered or agreed.
    """
    if row.pre_fund is None or row.pre_fund == row.expected_fund:
        return ()
    expected = [rules.ExpectedLine(**x) for x in json.loads(row.expected_lines)]
    answered = [rules.FeeResult(**r) for r in json.loads(row.fee_results or "[]")]
    insured = row.insured_on_platform is not False
    return rules.differences(row.expected_fund, row.pre_fund, insured, expected, answered)


def statuses_for_visits(visit_ids: Iterable[int]) -> dict[int, InsuranceSettlement]:
    ids = list(visit_ids)
    if not ids:
        return {}
    return {
        s.visit_id: s
        for s in db.session.scalars(
            select(InsuranceSettlement).where(InsuranceSettlement.visit_id.in_(ids))
        )
    }


def unsettled_blocking(clinic_id: int, month: str, session: Any = None) -> int:
    """Visits of the clinic-month still pending (or failed) and not decided by finance."""
    return int(
        (session or db.session).scalar(
            select(func.count()).where(
                InsuranceSettlement.clinic_id == clinic_id,
                InsuranceSettlement.visit_month == month,
                InsuranceSettlement.status.in_(("pending", "failed")),
                InsuranceSettlement.voided.is_(False),
                InsuranceSettlement.decided_at.is_(None),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class PlatformAdjustment:
    clinic_id: int
    visit_id: int
    receipt_number: str
    belongs_to: str
    why: str
    fund_computed: int
    fund_paid: int
    amount: int


def platform_adjustments(
    clinic_ids: list[int] | Select[tuple[int]], month: str
) -> list[PlatformAdjustment]:
    """Settled visits whose backstop differs, on ``month``'s statements of ``clinic_ids``
    (a list, or a ``SELECT`` of ids)."""
    if not isinstance(clinic_ids, Select) and not clinic_ids:
        return []
    rows = db.session.scalars(
        select(InsuranceSettlement)
        .where(
            InsuranceSettlement.clinic_id.in_(clinic_ids),
            InsuranceSettlement.statement_month == month,
            InsuranceSettlement.status == "settled",
            InsuranceSettlement.adjustment != 0,
        )
        .order_by(InsuranceSettlement.clinic_id, InsuranceSettlement.id)
    )
    return [
        PlatformAdjustment(
            clinic_id=r.clinic_id,
            visit_id=r.visit_id,
            receipt_number=r.receipt_number,
            belongs_to=r.visit_month,
            why=(r.why_codes or ["cap_or_fund_ratio"])[0],
            fund_computed=r.expected_fund,
            fund_paid=r.fund or 0,
            amount=r.adjustment,
        )
        for r in rows
    ]


def platform_adjustment_total(session: Any, clinic_id: int, month: str) -> int:
    """The sum of :func:`platform_adjustments` of one clinic's statement (inside a unit)."""
    total = session.scalar(
        select(func.coalesce(func.sum(InsuranceSettlement.adjustment), 0)).where(
            InsuranceSettlement.clinic_id == clinic_id,
            InsuranceSettlement.statement_month == month,
            InsuranceSettlement.status == "settled",
        )
    )
    return int(total or 0)


def receipts_by_platform_key(
    session: Any, key: str, clinic_ids: list[int], values: Iterable[str]
) -> dict[tuple[int, str], str]:
    """``(clinic, the platform's key) → receipt number`` of the visits settled in real time.

    ``key`` is ``"mdtrt_id"`` (the platform's visit id) or ``"setl_id"``, the
    fund's first and second keys (SPEC §7); read 500 values a statement.
    """
    column = {"mdtrt_id": InsuranceSettlement.mdtrt_id, "setl_id": InsuranceSettlement.setl_id}[key]
    ids = sorted(set(values))
    out: dict[tuple[int, str], str] = {}
    for start in range(0, len(ids), 500):
        for clinic_id, value, receipt in session.execute(
            select(InsuranceSettlement.clinic_id, column, InsuranceSettlement.receipt_number).where(
                InsuranceSettlement.clinic_id.in_(clinic_ids),
                column.in_(ids[start : start + 500]),
            )
        ):
            out[(clinic_id, value)] = receipt
    return out


def settled_funds(session: Any, visit_ids: list[int]) -> dict[int, int]:
    """The platform's fund of each visit settled in real time (the fund it already counts)."""
    out: dict[int, int] = {}
    for start in range(0, len(visit_ids), 500):
        for visit_id, fund in session.execute(
            select(InsuranceSettlement.visit_id, InsuranceSettlement.fund).where(
                InsuranceSettlement.visit_id.in_(visit_ids[start : start + 500]),
                InsuranceSettlement.status == "settled",
            )
        ):
            out[visit_id] = int(fund)
    return out


@dataclass(frozen=True)
class Counts:
    settled: int = 0
    pending: int = 0
    failed: int = 0
    differing: int = 0


def counts_by_clinic(clinic_ids: list[int], month: str) -> dict[int, Counts]:
    """Per clinic: how many of the month's visits are settled, pending, failed, differing."""
    if not clinic_ids:
        return {}
    rows = db.session.execute(
        select(
            InsuranceSettlement.clinic_id,
            InsuranceSettlement.status,
            func.count(),
            func.sum(func.coalesce(InsuranceSettlement.fund, 0)),
            func.sum(InsuranceSettlement.expected_fund),
        )
        .where(
            InsuranceSettlement.clinic_id.in_(clinic_ids),
            InsuranceSettlement.visit_month == month,
            InsuranceSettlement.voided.is_(False),
        )
        .group_by(InsuranceSettlement.clinic_id, InsuranceSettlement.status)
    ).all()
    differing = dict(
        db.session.execute(
            select(InsuranceSettlement.clinic_id, func.count())
            .where(
                InsuranceSettlement.clinic_id.in_(clinic_ids),
                InsuranceSettlement.visit_month == month,
                InsuranceSettlement.status == "settled",
                InsuranceSettlement.fund != InsuranceSettlement.expected_fund,
            )
            .group_by(InsuranceSettlement.clinic_id)
        ).all()
    )
    out: dict[int, dict[str, int]] = {}
    for clinic_id, status, n, _fund, _expected in rows:
        out.setdefault(clinic_id, {})[status] = int(n)
    return {
        cid: Counts(
            settled=v.get("settled", 0),
            pending=v.get("pending", 0),
            failed=v.get("failed", 0),
            differing=int(differing.get(cid, 0)),
        )
        for cid, v in out.items()
    }


@dataclass(frozen=True)
class Unsettled:
    settlement_id: int
    visit_id: int
    clinic_code: str
    clinic_name: str
    receipt_number: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: dt.datetime | None
    decided: bool
    voided: bool


def unsettled(clinic_ids: list[int] | None = None, limit: int = 500) -> list[Unsettled]:
    """Pending and failed settlements (failed first), for the clinic page and the board."""
    query = (
        select(InsuranceSettlement, Clinic.code, Clinic.name)
        .join(Clinic, Clinic.id == InsuranceSettlement.clinic_id)
        .where(InsuranceSettlement.status.in_(("pending", "failed")))
        .order_by(InsuranceSettlement.status.desc(), InsuranceSettlement.id)
        .limit(limit)
    )
    if clinic_ids is not None:
        query = query.where(InsuranceSettlement.clinic_id.in_(clinic_ids))
    return [
        Unsettled(
            settlement_id=s.id,
            visit_id=s.visit_id,
            clinic_code=code,
            clinic_name=name,
            receipt_number=s.receipt_number,
            status=s.status,
            attempts=s.attempts,
            last_error=s.last_error,
            next_attempt_at=s.next_attempt_at,
            decided=s.decided_at is not None,
            voided=s.voided,
        )
        for s, code, name in db.session.execute(query)
    ]


def exchanges_of(settlement_id: int) -> list[InsuranceExchange]:
    return list(
        db.session.scalars(
            select(InsuranceExchange)
            .where(InsuranceExchange.settlement_id == settlement_id)
            .order_by(InsuranceExchange.id)
        )
    )
