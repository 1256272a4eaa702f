"""Talking to the medical-insurance platform, and a local simulator of it.

The platform's outpatient flow is register → upload fee detail → settle (and
reverse), then a settlement detail file per institution and month.  This
module defines that interface (:class:`InsurancePlatform`) and a simulator
(:class:`SimulatedPlatform`) that settles with this system's own figures
plus injectable disagreements — lapsed insurance, a different price, a
rejected, reversed or duplicated settlement, a settlement this system never
recorded — so a district can rehearse a reconciliation with every kind of
difference.  Which implementation is used is configuration
(``INSURANCE_PLATFORM``: ``simulator`` or ``package.module:ClassName``), not
a code change.

This in-memory simulator rehearses the *monthly file* only: it keys a
settlement by the receipt number as if it were ``mdtrt_id``, which the real
platform does not (its ``mdtrt_id`` is its own visit id, returned by 2201; the
receipt number travels as ``ipt_otp_no``).  The real interface — envelope,
transactions, identifiers — is :mod:`app.insurance`, and the simulator of the
real platform, a service of its own, is ``platform_sim``.

Pure: no Flask, no SQLAlchemy, no clock (times come with the visits).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from app.localtime import local
from app.money import apply_ratio, format_yuan
from app.reconcile.rules import SettlementRow
from app.reconcile.schemas import COLUMNS, OPTIONAL_COLUMNS, OPTIONAL_MONEY, OPTIONAL_TEXT


@dataclass(frozen=True)
class PlatformVisit:
    """A visit as the platform sees it at registration and fee upload."""

    insurance_code: str
    receipt_number: str  # sent as mdtrt_id
    id_number: str
    visited_at: dt.datetime
    lines_total: int
    in_scope: int
    deductible_applied: int
    fund: int  # what this system computed
    patient: int


# The simulated platform's "price difference": it prices the fees 10 % lower.
_NINE_TENTHS = Decimal("0.9")


class InsurancePlatform(Protocol):
    def register(self, visit: PlatformVisit) -> str: ...

    def upload_fee_detail(self, mdtrt_id: str, lines_total: int) -> None: ...

    def settle(self, mdtrt_id: str) -> SettlementRow | None: ...

    def reverse(self, setl_id: str) -> SettlementRow: ...

    def settlement_detail(self, insurance_codes: set[str], month: str) -> list[SettlementRow]: ...


@dataclass
class Disagreements:
    """How many visits of a month the simulated fund treats differently, and how."""

    lapsed: int = 0  # insurance not active on the platform: the fund pays nothing
    price: int = 0  # the platform priced a drug 10 % lower
    rejected: int = 0  # settlement refused: no row at all
    reversed: int = 0  # settled, then reversed
    duplicate: int = 0  # settled twice
    unknown: int = 0  # a settlement for a receipt this system never recorded
    seed: int = 2016


@dataclass
class SimulatedPlatform:
    """An in-memory platform: settles with the recorded figures, bent by ``disagreements``."""

    disagreements: Disagreements = field(default_factory=Disagreements)
    _visits: dict[str, PlatformVisit] = field(default_factory=dict)
    _fees: dict[str, int] = field(default_factory=dict)
    _rows: list[SettlementRow] = field(default_factory=list)
    _bent: dict[str, str] = field(default_factory=dict)  # mdtrt_id → disagreement
    _serial: int = 0

    def register(self, visit: PlatformVisit) -> str:
        self._visits[visit.receipt_number] = visit
        return visit.receipt_number

    def upload_fee_detail(self, mdtrt_id: str, lines_total: int) -> None:
        self._fees[mdtrt_id] = lines_total

    def _next_id(self) -> str:
        self._serial += 1
        return f"SIM{self._serial:010d}"

    def settle(self, mdtrt_id: str) -> SettlementRow | None:
        visit = self._visits[mdtrt_id]
        how = self._bent.get(mdtrt_id)
        if how == "rejected":
            return None
        fees = self._fees.get(mdtrt_id, visit.lines_total)
        fund, dedc = visit.fund, visit.deductible_applied
        if how == "lapsed":
            fund, dedc = 0, 0
        elif how == "price":
            fees = apply_ratio(fees, _NINE_TENTHS)
            fund = apply_ratio(fund, _NINE_TENTHS)
        row = SettlementRow(
            line=len(self._rows) + 2,
            insurance_code=visit.insurance_code,
            setl_id=self._next_id(),
            mdtrt_id=mdtrt_id,
            certno=visit.id_number,
            setl_time=visit.visited_at + dt.timedelta(minutes=2),
            medfee_sumamt=fees,
            inscp_scp_amt=min(visit.in_scope, fees),
            act_pay_dedc=dedc,
            hifp_pay=fund,
            fund_pay_sumamt=fund,
            psn_cash_pay=fees - fund,
        )
        self._rows.append(row)
        return row

    def reverse(self, setl_id: str) -> SettlementRow:
        original = next(r for r in self._rows if r.setl_id == setl_id)
        row = SettlementRow(
            line=len(self._rows) + 2,
            insurance_code=original.insurance_code,
            setl_id=self._next_id(),
            mdtrt_id=original.mdtrt_id,
            certno=original.certno,
            setl_time=original.setl_time + dt.timedelta(days=3),
            medfee_sumamt=-original.medfee_sumamt,
            inscp_scp_amt=-original.inscp_scp_amt,
            act_pay_dedc=-original.act_pay_dedc,
            hifp_pay=-original.hifp_pay,
            fund_pay_sumamt=-original.fund_pay_sumamt,
            psn_cash_pay=-original.psn_cash_pay,
        )
        self._rows.append(row)
        return row

    def settlement_detail(self, insurance_codes: set[str], month: str) -> list[SettlementRow]:
        return [
            r
            for r in self._rows
            if r.insurance_code in insurance_codes
            and f"{local(self._visits[r.mdtrt_id].visited_at):%Y-%m}" == month
        ]

    def run_month(self, visits: list[PlatformVisit], month: str) -> list[SettlementRow]:
        """Register, upload and settle every visit, bending some; the month's detail."""
        d = self.disagreements
        chooser = random.Random(d.seed)
        insured = [v for v in visits if v.fund > 0]
        chosen = chooser.sample(
            insured, min(len(insured), d.lapsed + d.price + d.rejected + d.reversed + d.duplicate)
        )
        plan = (
            ["lapsed"] * d.lapsed
            + ["price"] * d.price
            + ["rejected"] * d.rejected
            + ["reversed"] * d.reversed
            + ["duplicate"] * d.duplicate
        )
        for visit, bend in zip(chosen, plan, strict=False):
            self._bent[visit.receipt_number] = bend
        for visit in insured:
            self.upload_fee_detail(self.register(visit), visit.lines_total)
            row = self.settle(visit.receipt_number)
            how = self._bent.get(visit.receipt_number)
            if row is not None and how == "reversed":
                self.reverse(row.setl_id)
            elif row is not None and how == "duplicate":
                self.settle(visit.receipt_number)
        for n in range(d.unknown):
            if not insured:
                break
            model = insured[n % len(insured)]
            ghost = PlatformVisit(
                **{**model.__dict__, "receipt_number": f"{model.receipt_number}-X{n + 1}"}
            )
            self.upload_fee_detail(self.register(ghost), ghost.lines_total)
            self.settle(ghost.receipt_number)
        codes = {v.insurance_code for v in visits}
        return self.settlement_detail(codes, month)


def settlement_csv(rows: list[SettlementRow], encoding: str = "utf-8", full: bool = False) -> bytes:
    """The platform's settlement detail file: header row, yuan amounts, local times.

    ``full``: with the platform's fuller columns too (issue 21), ``null`` for none.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*COLUMNS, *OPTIONAL_COLUMNS) if full else COLUMNS)
    for r in rows:
        extra = (
            [getattr(r, n) or "null" for n in OPTIONAL_TEXT]
            + [format_yuan(getattr(r, n)) for n in OPTIONAL_MONEY]
            if full
            else []
        )
        writer.writerow(
            [
                r.insurance_code,
                r.setl_id,
                r.mdtrt_id,
                r.certno,
                f"{local(r.setl_time):%Y-%m-%d %H:%M:%S}",
                *(
                    format_yuan(v)
                    for v in (
                        r.medfee_sumamt,
                        r.inscp_scp_amt,
                        r.act_pay_dedc,
                        r.hifp_pay,
                        r.fund_pay_sumamt,
                        r.psn_cash_pay,
                    )
                ),
                *extra,
            ]
        )
    return out.getvalue().encode(encoding)


def platform_from_config(
    name: str, disagreements: Disagreements | None = None
) -> InsurancePlatform:
    """``simulator`` or ``package.module:ClassName`` (a real connection's adapter)."""
    if name == "simulator":
        return SimulatedPlatform(disagreements or Disagreements())
    module_name, _, class_name = name.partition(":")
    if not class_name:
        raise ValueError(f"INSURANCE_PLATFORM must be 'simulator' or 'module:Class', not {name!r}")
    adapter: type[InsurancePlatform] = getattr(importlib.import_module(module_name), class_name)
    return adapter()
