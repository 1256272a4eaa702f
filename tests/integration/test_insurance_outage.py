"""An hour's platform outage at several clinics (补结算), proven with the simulator (issue 20 §4).

Three clinics record visits before, during and after an outage; two answers
are lost just before it (the platform settled, the clinic never heard).  The
retry command runs through the outage (nothing settles, nothing is lost),
then after it until nothing is pending.  In the end: every insured visit is
settled exactly once at the platform (the two lost settlements reversed with
2601, never doubled), the platform's fund equals the clinic's record of it,
and every statement's backstop due equals the sum of its visits' settled
backstop, to the fen.  Meanwhile a statement with pending visits cannot be
paid, until finance decides them at the expected figures with a reason.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.insurance.models import InsuranceSettlement
from app.insurance.queries import unsettled_blocking
from app.money import format_yuan
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.simulator import Simulator, load_factory_world

CLINICS = [("HD001", "doctor"), ("HD002", "doctor2"), ("HD003", "doctor3")]
PATIENTS = ["insured_village", "insured_community", "other_district", "uninsured_village"]
LINES = [
    [{"item": "DX001", "quantity": "1"}, {"item": "AMX01", "quantity": "12"}],
    [{"item": "DX001", "quantity": "1"}, {"item": "FFGC1", "quantity": "2"},
     {"item": "HY001", "quantity": "1"}],
    [{"item": "BSJ01", "quantity": "6"}, {"item": "VC001", "quantity": "10"}],
]  # fmt: skip


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(tmp_path)
    simulator.start()
    yield simulator
    simulator.stop()


def record(client: FlaskClient, world: World, n: int) -> dict[str, Any]:
    clinic, doctor = CLINICS[n % len(CLINICS)]
    body = {
        "clinic": clinic,
        "patient_id_number": world.ids[PATIENTS[n % len(PATIENTS)]],
        "injection": n % 2 == 0,
        "lines": LINES[n % len(LINES)],
    }
    resp = client.post(
        "/api/v1/visits", json=body,
        headers={**world.auth(doctor), "Idempotency-Key": uuid.uuid4().hex},
    )  # fmt: skip
    assert resp.status_code == 201, resp.json
    answer: dict[str, Any] = resp.json
    return answer


def test_an_hours_outage_at_three_clinics_loses_nothing_and_settles_nothing_twice(
    app: Flask, client: FlaskClient, world: World, sim: Simulator, clock: FixedClock
) -> None:
    load_factory_world(sim, world.ids)
    # The platform's own catalogue disagrees on one item: a price ceiling.
    sim.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01", "price_ceiling": "0.30"}])
    app.config.update(
        INSURANCE_GATEWAY_URL=sim.url,
        INSURANCE_CONNECT_TIMEOUT=1,
        INSURANCE_READ_TIMEOUT=1,
        INSURANCE_MAX_ATTEMPTS=20,
        INSURANCE_PAUSE_AFTER_FAILURE=0,
    )
    runner = app.test_cli_runner()
    visits = [record(client, world, n) for n in range(6)]  # before: settled at once
    assert {v["insurance"]["status"] for v in visits if v["insurance"]} == {"settled"}
    # Just before the outage two answers are lost after the platform settled.
    sim.mode(lose={"2207": 2}, hang_seconds=3)
    visits += [record(client, world, n) for n in range(6, 9)]
    sim.stop()  # the outage: an hour, visits every few minutes at every clinic
    for n in range(9, 27):
        clock.advance(minutes=3)
        visit = record(client, world, n)
        assert visit["insurance"] is None or visit["insurance"]["status"] == "pending"
        visits.append(visit)
        if n % 6 == 0:
            assert "settled 0" in runner.invoke(args=["insurance", "retry"]).output
    insured = [v for v in visits if v["insurance"] is not None]
    pending = [v for v in insured if v["insurance"]["status"] == "pending"]
    assert len(pending) >= 15  # 13 in the outage, 2 answers lost (and more: uninsured none)
    # A statement with pending visits cannot be paid (SPEC §7).
    assert unsettled_blocking(world.clinic.id, "2026-10") > 0
    db.session.rollback()

    sim.start()
    sim.mode(lose={}, hang_seconds=3)
    for _ in range(12):  # the retry loop, from cron, after the outage
        clock.advance(minutes=30)
        runner.invoke(args=["insurance", "retry"])
        if not db.session.scalar(
            select(InsuranceSettlement.id).where(InsuranceSettlement.status != "settled").limit(1)
        ):
            break
        db.session.rollback()
    db.session.rollback()

    rows = {s.visit_id: s for s in db.session.scalars(select(InsuranceSettlement))}
    # No visit lost: every insured visit has its settlement, settled.
    assert set(rows) == {v["id"] for v in insured}
    assert {s.status for s in rows.values()} == {"settled"}
    # None settled twice: one live settlement per receipt at the platform.
    platform_rows = sim.settlements()
    live = [p for p in platform_rows if p["status"] == "settled"]
    assert Counter(p["ipt_otp_no"] for p in live) == Counter(v["receipt_number"] for v in insured)
    assert sum(p["status"] == "reversed" for p in platform_rows) == 2  # the lost answers
    assert sum(p["fund"] for p in live) == sum(s.fund or 0 for s in rows.values())
    assert {p["setl_id"] for p in live} == {s.setl_id for s in rows.values()}
    # Some visits differ (the ceiling), and each one's split still adds up.
    assert any(s.why == "price_ceiling" for s in rows.values())
    for s in rows.values():
        assert (s.fund or 0) + (s.fiscal or 0) + (s.patient or 0) == (
            s.expected_fund + s.expected_fiscal + s.expected_patient
        )
    # Every statement is right to the fen: the backstop due is the visits' settled backstop.
    by_clinic = {code: 0 for code, _ in CLINICS}
    for v in db.session.scalars(select(Visit).where(Visit.voided_at.is_(None))):
        settled = rows.get(v.id)
        by_clinic[v.clinic.code] += settled.fiscal if settled else v.fiscal  # type: ignore[operator]
    db.session.rollback()
    for code, _doctor in CLINICS:
        statement = client.get(
            f"/api/v1/statements/{code}/2026-10", headers=world.auth("reviewer")
        ).json
        assert statement["backstop_due"] == format_yuan(by_clinic[code]), code
    assert unsettled_blocking(world.clinic.id, "2026-10") == 0
