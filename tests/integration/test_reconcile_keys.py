"""The monthly file matched the way the fund keys it (issue 21, item 1; SPEC §7).

Visits settled in real time with the platform simulator; the fund's file names
each by a different key — the platform's ``setl_id`` alone, the clinic's own
number (``medins_setl_id``) alone, or only the person, the date and the amount
— and every one is matched without moving money; the last only within the
district's policy tolerance (``settlement_date_tolerance_days``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.database import unit_of_work
from app.extensions import db
from app.policy.models import PolicyVersion
from app.reconcile.models import FundFinding
from app.reconcile.platform import settlement_csv
from app.reconcile.rules import SettlementRow
from app.settlement.models import StatementAdjustment
from tests.factories import World
from tests.integration.test_insurance_platform import (  # noqa: F401 (fixtures)
    platform,
    record,
    request_scoped_g,
    sim,
)
from tests.simulator import Simulator


def _import(app: Flask, path: Path) -> str:
    out = app.test_cli_runner().invoke(
        args=["reconcile", "import", str(path), "--district", "440114", "--month", "2026-10"]
    )
    db.session.rollback()
    assert out.exit_code == 0, out.output
    return out.output


def test_setl_id_own_number_then_person_date_and_amount_within_the_policys_tolerance(
    app: Flask,
    client: FlaskClient,
    world: World,
    platform: Simulator,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    for _ in range(3):
        assert record(client, world).status_code == 201
    settled = platform.settlements()
    assert len(settled) == 3
    person = world.ids["insured_village"]

    def file_row(n: int, s: dict[str, object], **keys: object) -> SettlementRow:
        fund, medfee = int(str(s["fund"])), int(str(s["medfee"]))
        values: dict[str, object] = {
            "line": n + 2,
            "insurance_code": s["fixmedins_code"],
            "setl_id": s["setl_id"],
            "mdtrt_id": f"LOST{n}",  # an mdtrt_id the clinic never saw
            "certno": person,
            "setl_time": dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC),
            "medfee_sumamt": medfee,
            "inscp_scp_amt": 0,
            "act_pay_dedc": 0,
            "hifp_pay": fund,
            "fund_pay_sumamt": fund,
            "psn_cash_pay": medfee - fund,
        }
        values.update(keys)
        return SettlementRow(**values)  # type: ignore[arg-type]

    first, second, third = settled
    rows = [
        file_row(0, first),  # the platform's setl_id is the key
        file_row(1, second, setl_id="OTHER-1", medins_setl_id=second["ipt_otp_no"]),
        # Only the person, the amount and a date four days after the visit (an outage).
        file_row(2, third, setl_id="OTHER-2", setl_time=dt.datetime(2026, 10, 19, 2, 0,
                                                                    tzinfo=dt.UTC)),
    ]  # fmt: skip
    strict = tmp_path / "strict.csv"
    strict.write_bytes(settlement_csv(rows, full=True))
    _import(app, strict)
    matched = dict(
        db.session.execute(
            select(FundFinding.receipt_number, FundFinding.matched_by).where(
                FundFinding.visit_id.isnot(None)
            )
        ).all()
    )
    assert matched[str(first["ipt_otp_no"])] == "setl_id"
    assert matched[str(second["ipt_otp_no"])] == "own_number"
    # One day of tolerance (the default): the third is not matched, and money would move.
    assert matched[str(third["ipt_otp_no"])] == ""
    assert db.session.scalar(select(func.count()).select_from(StatementAdjustment)) == 1

    # The district's policy allows five days: the same rows, imported again, match.
    with unit_of_work() as session:
        for version in session.scalars(select(PolicyVersion)):
            version.settlement_date_tolerance_days = 5
    lenient = tmp_path / "lenient.csv"
    lenient.write_bytes(settlement_csv([*rows, file_row(3, third, setl_id="EXTRA", certno=person,
                                                        medfee_sumamt=1)], full=True))  # fmt: skip
    _import(app, lenient)
    matched = dict(
        db.session.execute(
            select(FundFinding.receipt_number, FundFinding.matched_by).where(
                FundFinding.visit_id.isnot(None)
            )
        ).all()
    )
    assert matched[str(third["ipt_otp_no"])] == "person_date_amount"
    outcomes = set(db.session.scalars(select(FundFinding.outcome)))
    assert outcomes == {"matched", "unknown"}  # the EXTRA row (another amount) is no guess
    # The adjustment booked under the strict tolerance is taken back: Σ = 0.
    total = db.session.scalar(select(func.sum(StatementAdjustment.amount)))
    assert total == 0
