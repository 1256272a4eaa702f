"""Real-time settlement with the platform simulator, a real service (SPEC §7, §9; issue 20).

The simulator runs as its own process with its own database; the app talks to
it over HTTP.  Settled at recording, disagreeing (ceiling, lapsed insurance),
unreachable then settled by the retry command, an answer lost and reversed
(2601) before trying again, refused until handed to a person, a void
reversed — and, with no platform configured, nothing changes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.auth.models import User
from app.catalog.models import CatalogItem, ItemPrice
from app.database import unit_of_work
from app.extensions import db
from app.insurance.models import InsuranceExchange, InsuranceSettlement
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    login,
    request_scoped_g,
)
from tests.simulator import Simulator, load_factory_world

WORKED_LINES = [
    {"item": "DX001", "quantity": "1"},
    {"item": "AMX01", "quantity": "12"},
    {"item": "FFGC1", "quantity": "1"},
    {"item": "HY001", "quantity": "1"},
]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(tmp_path)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def platform(app: Flask, world: World, sim: Simulator) -> Simulator:
    """The app configured for the simulator, which knows the world's persons and items."""
    load_factory_world(sim, world.ids)
    app.config.update(
        INSURANCE_GATEWAY_URL=sim.url,
        INSURANCE_CONNECT_TIMEOUT=1,
        INSURANCE_READ_TIMEOUT=1.5,
        INSURANCE_MAX_ATTEMPTS=3,
        INSURANCE_PAUSE_AFTER_FAILURE=0,
    )
    return sim


def record(client: FlaskClient, world: World, label: str = "insured_village", **kw: Any) -> Any:
    body = {
        "clinic": "HD001",
        "patient_id_number": world.ids[label],
        "injection": True,
        "lines": [dict(line) for line in WORKED_LINES],
        **kw,
    }
    headers = {**world.auth("doctor"), "Idempotency-Key": uuid.uuid4().hex}
    return client.post("/api/v1/visits", json=body, headers=headers)


def exchanges(visit_id: int) -> list[InsuranceExchange]:
    sid = db.session.scalar(
        select(InsuranceSettlement.id).where(InsuranceSettlement.visit_id == visit_id)
    )
    rows = list(
        db.session.scalars(
            select(InsuranceExchange)
            .where(InsuranceExchange.settlement_id == sid)
            .order_by(InsuranceExchange.id)
        )
    )
    db.session.rollback()
    return rows


def test_settled_at_recording_with_the_platforms_ids(
    client: FlaskClient, world: World, platform: Simulator
) -> None:
    resp = record(client, world)
    assert resp.status_code == 201, resp.json
    visit = resp.json
    insurance = visit["insurance"]
    assert insurance["status"] == "settled"
    assert insurance["settled"] == {"fund": "12.15", "fiscal": "5.55", "patient": "7.00"}
    assert insurance["expected"] == insurance["settled"] and insurance["why"] == []
    assert insurance["pre_fund"] == "12.15"  # 2206 answered the same fund before 2207
    assert insurance["mdtrt_id"].startswith("M") and insurance["setl_id"].startswith("T")
    # The platform's visit id is its own; the clinic's receipt number went as ipt_otp_no.
    [settled] = platform.settlements()
    assert settled["mdtrt_id"] == insurance["mdtrt_id"]
    assert settled["ipt_otp_no"] == visit["receipt_number"]
    assert settled["fund"] == 1215 and settled["medfee"] == 2270
    calls = exchanges(visit["id"])
    assert [c.infno for c in calls] == ["1101", "2201", "2203", "2204", "2206", "2207"]
    assert all(c.state == "answered" and c.infcode == "0" for c in calls)
    assert all(len(c.msgid) == 30 and c.msgid.startswith("H44011400001") for c in calls)
    assert len({c.msgid for c in calls}) == len(calls)
    fee = json.loads(calls[3].request)
    assert fee["sign_no"].startswith("S") and fee["fixmedins_code"] == "H44011400001"
    rows = fee["input"]["feedetail"]
    assert [r["medins_list_codg"] for r in rows] == ["DX001", "AMX01", "FFGC1", "HY001"]
    assert [r["det_item_fee_sumamt"] for r in rows] == ["10.00", "4.20", "3.50", "5.00"]
    assert {r["mdtrt_id"] for r in rows} == {insurance["mdtrt_id"]}
    # One sign-in a day: a second visit signs in no more.
    second = record(client, world)
    assert second.json["insurance"]["status"] == "settled"
    signins = db.session.scalar(
        select(func.count()).select_from(InsuranceExchange).where(InsuranceExchange.infno == "9001")
    )
    assert signins == 1
    # The receipt says so; the ID number is not shown unmasked on it.
    page = client.get(f"/visits/{visit['id']}/receipt")
    assert page.status_code in (200, 302)


def test_the_platform_disagrees_and_the_statement_carries_it(
    client: FlaskClient, world: World, platform: Simulator
) -> None:
    # The platform's own catalogue: amoxicillin has a ceiling of 0.30 a capsule.
    platform.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                       "price_ceiling": "0.30"}])  # fmt: skip
    visit = record(client, world).json
    insurance = visit["insurance"]
    # Fund: (10.00 + 3.60 + 3.15) × 0.70 = 11.725 → 11.73; P = 22.70 − 11.73 = 10.97;
    # the patient pays the fees + min(self-pay 5.00, P); the district the rest.
    assert insurance["settled"] == {"fund": "11.73", "fiscal": "5.97", "patient": "7.00"}
    assert insurance["expected"] == {"fund": "12.15", "fiscal": "5.55", "patient": "7.00"}
    assert insurance["why"] == ["price_ceiling"]
    # The visit row is untouched; the statement gains an adjustment line of +0.42.
    assert visit["totals"]["fund"] == "12.15"
    statement = client.get("/api/v1/statements/HD001/2026-10", headers=world.auth("reviewer")).json
    assert statement["figures"]["fund"] == "12.15"
    lines = [a for a in statement["adjustments"] if a["source"] == "platform"]
    assert len(lines) == 1 and lines[0]["amount"] == "0.42"
    assert statement["backstop_due"] == "5.97"


def test_lapsed_insurance_on_the_platform(
    client: FlaskClient, world: World, platform: Simulator
) -> None:
    platform.post("admin/persons", [{"certno": world.ids["insured_village"], "insutype": "390",
                                     "insured_from": "2026-01-01",
                                     "insured_to": "2026-06-30"}])  # fmt: skip
    insurance = record(client, world).json["insurance"]
    assert insurance["settled"] == {"fund": "0.00", "fiscal": "17.70", "patient": "7.00"}
    assert insurance["why"] == ["insurance_lapsed"]


def test_no_platform_configured_changes_nothing(client: FlaskClient, world: World) -> None:
    resp = record(client, world)
    assert resp.status_code == 201
    assert "insurance" not in resp.json
    assert db.session.scalar(select(func.count()).select_from(InsuranceSettlement)) == 0


@pytest.mark.usefixtures("request_scoped_g")
def test_unreachable_visit_is_pending_then_settled_by_the_retry_command(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    platform.stop()
    resp = record(client, world)
    assert resp.status_code == 201
    insurance = resp.json["insurance"]
    assert insurance["status"] == "pending" and insurance["settled"] is None
    assert insurance["reason"].startswith("unreachable")
    # The day's sign-in (9001) was the call that could not be made; it is kept too.
    signin = db.session.scalars(select(InsuranceExchange)).one()
    assert (signin.infno, signin.state, signin.answer) == ("9001", "unreachable", None)
    db.session.rollback()
    # The receipt says the visit is pending settlement.
    login(client)
    page = client.get(f"/visits/{resp.json['id']}/receipt").get_data(as_text=True)
    assert 'id="r-insurance"' in page and "医保待结算" in page
    assert "无法连接医保平台" in page and "unreachable" not in page
    platform.start()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["insurance", "retry"])
    assert "attempted 0" in out.output  # not due yet: backoff
    clock.advance(minutes=2)
    out = runner.invoke(args=["insurance", "retry"])
    assert out.exit_code == 0, out.output
    assert "settled 1" in out.output
    row = db.session.scalar(select(InsuranceSettlement))
    assert row is not None and row.status == "settled" and row.fund == 1215
    assert len(platform.settlements()) == 1


def test_a_lost_answer_is_reversed_before_trying_again(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    # The platform settles, then the answer never comes (the client gives up after 1.5 s).
    platform.mode(lose={"2207": 1}, hang_seconds=4)
    resp = record(client, world)
    insurance = resp.json["insurance"]
    assert insurance["status"] == "pending" and insurance["reason"].startswith("unknown: ")
    assert [s["status"] for s in platform.settlements()] == ["settled"]  # it did settle
    clock.advance(minutes=2)
    out = app.test_cli_runner().invoke(args=["insurance", "retry"])
    assert "settled 1" in out.output, out.output
    # 2601 undid the lost settlement before 2207 was sent again: one settled, one reversed.
    assert sorted(s["status"] for s in platform.settlements()) == ["reversed", "settled"]
    calls = exchanges(resp.json["id"])
    assert [c.infno for c in calls][-4:] == ["2207", "2601", "2206", "2207"]
    assert [c.state for c in calls][-4:] == ["reversed", "answered", "answered", "answered"]
    original = json.loads(calls[-3].request)["input"]["data"]
    assert original["omsgid"] == calls[-4].msgid and original["oinfno"] == "2207"


@pytest.mark.usefixtures("request_scoped_g")
def test_a_refused_pre_settlement_stops_before_2207(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    platform.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                       "price_ceiling": "0.30"}])  # fmt: skip
    platform.mode(refuse=["2206"])
    resp = record(client, world)
    insurance = resp.json["insurance"]
    assert insurance["status"] == "pending" and insurance["pre_fund"] is None
    assert insurance["reason"] == "refused 2206 -1: 系统维护中，请稍后再试"
    assert [c.infno for c in exchanges(resp.json["id"])][-2:] == ["2204", "2206"]  # no 2207
    assert platform.settlements() == []
    login(client)
    page = client.get(f"/visits/{resp.json['id']}/receipt").get_data(as_text=True)
    assert "医保待结算" in page
    assert "医保平台拒绝（门诊预结算 2206，返回码 -1）：系统维护中，请稍后再试" in page
    # Back: the retry pre-settles and settles; 2206's fund is kept beside the expected one.
    platform.mode(refuse=[])
    clock.advance(minutes=2)
    out = app.test_cli_runner().invoke(args=["insurance", "retry"])
    assert "settled 1" in out.output, out.output
    row = db.session.scalar(select(InsuranceSettlement))
    assert row is not None and row.status == "settled"
    # The platform's ceiling: 2206 already answered less than the expected fund, as 2207 did.
    assert (row.expected_fund, row.pre_fund, row.fund) == (1215, 1173, 1173)
    db.session.rollback()
    assert [c.infno for c in exchanges(resp.json["id"])][-3:] == ["2206", "2206", "2207"]


def test_a_lost_pre_settlement_answer_is_simply_repeated(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    platform.mode(lose={"2206": 1}, hang_seconds=4)
    resp = record(client, world)
    insurance = resp.json["insurance"]
    assert insurance["status"] == "pending" and insurance["reason"].startswith("unknown: ")
    assert platform.settlements() == []
    clock.advance(minutes=2)
    out = app.test_cli_runner().invoke(args=["insurance", "retry"])
    assert "settled 1" in out.output, out.output
    calls = exchanges(resp.json["id"])
    # 2206 changed nothing at the platform: no 2601, it is sent again, then 2207.
    assert "2601" not in [c.infno for c in calls]
    assert [c.infno for c in calls][-3:] == ["2206", "2206", "2207"]
    assert [c.state for c in calls][-2:] == ["answered", "answered"]
    assert [s["status"] for s in platform.settlements()] == ["settled"]


@pytest.mark.usefixtures("request_scoped_g")
def test_refused_until_handed_to_a_person(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    platform.mode(refuse=["2201"])
    resp = record(client, world)
    assert resp.json["insurance"]["reason"] == "refused 2201 -1: 系统维护中，请稍后再试"
    runner = app.test_cli_runner()
    for _ in range(3):
        clock.advance(hours=1)
        runner.invoke(args=["insurance", "retry"])
    row = db.session.scalar(select(InsuranceSettlement))
    assert row is not None and row.status == "failed" and row.attempts == 3
    db.session.rollback()
    csrf = login(client, "reviewer")
    board = client.get("/insurance/pending").get_data(as_text=True)
    assert row.receipt_number in board
    assert "医保平台拒绝（门诊挂号 2201，返回码 -1）：系统维护中，请稍后再试" in board
    assert "refused" not in board
    statements = client.get("/board?month=2026-10").get_data(as_text=True)
    assert "insurance-pending" in statements and "医保待结算 1 笔" in statements
    # The platform is back: a person retries it now.
    platform.mode(refuse=[])
    answer = client.post(f"/insurance/settlements/{row.id}/retry", data={"csrf_token": csrf})
    assert answer.status_code == 303
    db.session.expire_all()
    assert db.session.get(InsuranceSettlement, row.id).status == "settled"  # type: ignore[union-attr]


def test_a_void_reverses_the_settlement(
    app: Flask,
    client: FlaskClient, world: World, platform: Simulator
) -> None:
    visit = record(client, world).json
    resp = client.post(
        f"/api/v1/visits/{visit['id']}/void", json={"reason": "wrong patient"},
        headers=world.auth("doctor"),
    )  # fmt: skip
    assert resp.status_code == 200, resp.json
    assert resp.json["insurance"]["status"] == "reversed"
    assert [s["status"] for s in platform.settlements()] == ["reversed"]
    assert [c.infno for c in exchanges(visit["id"])][-3:] == ["2208", "2205", "2202"]
    # Settled and reversed, audited on the clinic's chain: the chains still verify.
    out = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 0, out.output


def test_the_insurance_catalog_holds_every_message_in_chinese() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    area = Path(__file__).resolve().parents[2] / "app/insurance"
    with open(area / "translations/zh/LC_MESSAGES/messages.po", "rb") as f:
        catalog = {m.id: m.string for m in read_po(f) if m.id}
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    found = {
        msg[2]
        for msg in extract_from_dir(
            str(area), method_map, keywords={"_": None, "_l": None, "gettext": None}
        )
    }
    assert found - set(catalog) == set()
    assert all(catalog[m] for m in found)


@pytest.mark.usefixtures("request_scoped_g")
def test_pending_visits_block_payment_until_finance_decides(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    platform.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                       "price_ceiling": "0.30"}])  # fmt: skip
    platform.stop()
    visit = record(client, world, visited_at="2026-09-20T10:00:00+08:00").json
    assert visit["insurance"]["status"] == "pending"
    url = "/api/v1/statements/HD001/2026-09"
    assert client.post(f"{url}/submit", json={}, headers=world.auth("doctor")).status_code == 200
    assert client.post(f"{url}/review", json={}, headers=world.auth("reviewer")).status_code == 200
    pay = {"paid_on": "2026-10-15", "reference": "GZCZ-1", "amount": "5.55"}
    refused = client.post(f"{url}/pay", json=pay, headers=world.auth("finance"))
    assert refused.status_code == 409
    assert "pending insurance settlement" in str(refused.json)
    csrf = login(client, "finance")
    page = client.get("/statements/HD001/2026-09").get_data(as_text=True)
    assert 'id="pending-settlement"' in page and 'id="decide-form"' in page
    missing = client.post("/insurance/decide/HD001/2026-09", data={"csrf_token": csrf})
    assert missing.status_code == 303
    assert client.post(f"{url}/pay", json=pay, headers=world.auth("finance")).status_code == 409
    decided = client.post(
        "/insurance/decide/HD001/2026-09",
        data={"csrf_token": csrf, "reason": "platform down since the 20th; bureau notice 12"},
    )
    assert decided.status_code == 303
    paid = client.post(f"{url}/pay", json=pay, headers=world.auth("finance"))
    assert paid.status_code == 200, paid.json
    # The platform is back; the late settlement's difference goes on October's statement.
    platform.start()
    load_factory_world(platform, world.ids)
    platform.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                       "price_ceiling": "0.30"}])  # fmt: skip
    clock.advance(minutes=5)
    assert "settled 1" in app.test_cli_runner().invoke(args=["insurance", "retry"]).output
    row = db.session.scalar(select(InsuranceSettlement))
    assert row is not None and row.decided_reason and row.statement_month == "2026-10"
    db.session.rollback()
    october = client.get("/api/v1/statements/HD001/2026-10", headers=world.auth("reviewer")).json
    [line] = [a for a in october["adjustments"] if a["source"] == "platform"]
    assert line["belongs_to"] == "2026-09" and line["amount"] == "0.42"
    september = client.get(url, headers=world.auth("reviewer")).json
    assert not [a for a in september["adjustments"] if a["source"] == "platform"]


def test_no_transaction_is_open_while_the_platform_is_waited_on(
    client: FlaskClient, world: World, platform: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.insurance.operations as operations

    real_post = operations.post
    seen: list[tuple[str, bool]] = []

    def watched(gateway: Any, body: Any) -> Any:
        seen.append((body["infno"], db.session().in_transaction()))
        return real_post(gateway, body)

    monkeypatch.setattr(operations, "post", watched)
    visit = record(client, world).json
    assert visit["insurance"]["status"] == "settled"
    record(client, world)
    client.post(f"/api/v1/visits/{visit['id']}/void", json={"reason": "twice"},
                headers=world.auth("doctor"))  # fmt: skip
    # 9001 once, then 1101 2201 2203 2204 2206 2207 per visit; the void 2208 2205 2202.
    assert [infno for infno, _ in seen].count("2206") == 2
    assert len(seen) == 7 + 6 + 3 and not any(open_ for _, open_ in seen)


def test_the_retry_command_sweeps_a_visit_left_without_its_settlement(
    app: Flask, client: FlaskClient, world: World, sim: Simulator, clock: FixedClock
) -> None:
    """A crash between the visit's commit and its settlement row: the sweep opens it."""
    load_factory_world(sim, world.ids)
    old = record(client, world).json  # two days ago, before the platform went live
    clock.advance(days=2)
    recent = record(client, world).json  # recorded, then the process died (no platform call)
    app.config.update(INSURANCE_GATEWAY_URL=sim.url, INSURANCE_PAUSE_AFTER_FAILURE=0)
    out = app.test_cli_runner().invoke(args=["insurance", "retry"])
    assert "opened 1" in out.output and "settled 1" in out.output, out.output
    rows = {s.visit_id: s.status for s in db.session.scalars(select(InsuranceSettlement))}
    assert rows == {recent["id"]: "settled"} and old["id"] not in rows


@pytest.mark.usefixtures("request_scoped_g")
def test_the_doctors_terminal_settles_and_shows_the_platforms_figures(
    client: FlaskClient, world: World, platform: Simulator
) -> None:
    from tests.integration.test_terminal_pages import save_form

    platform.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                       "price_ceiling": "0.30"}])  # fmt: skip
    csrf = login(client)
    saved = client.post("/visits/new", data=save_form(world, csrf, "t-platform"))
    assert saved.status_code == 303
    receipt = client.get(saved.location).get_data(as_text=True)
    assert 'id="r-insurance"' in receipt and "已与医保平台实时结算" in receipt
    assert 'id="r-insurance-why"' in receipt and "医保支付限价" in receipt
    assert '<td class="num" id="r-fund">¥11.73</td>' in receipt
    assert '<td class="num" id="r-fiscal">¥5.97</td>' in receipt
    # Down: the doctor keeps working; the visit is recorded, pending, and says so.
    platform.stop()
    saved = client.post("/visits/new", data=save_form(world, csrf, "t-platform-2"))
    assert saved.status_code == 303
    receipt = client.get(saved.location).get_data(as_text=True)
    assert "医保待结算" in receipt and '<td class="num" id="r-fund">¥12.15</td>' in receipt
    today = client.get("/visits/today").get_data(as_text=True)
    assert 'id="insurance-unsettled"' in today and "insurance-pending" in today


def test_the_monthly_file_matches_real_time_settlements_on_the_platforms_ids(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, tmp_path: Path
) -> None:
    """The fund's file names a real-time visit by the platform's mdtrt_id; nothing is doubled."""
    import datetime as dt

    from app.reconcile.platform import settlement_csv
    from app.reconcile.rules import SettlementRow
    from app.settlement.models import StatementAdjustment

    platform.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                       "price_ceiling": "0.30"}])  # fmt: skip
    visits = [record(client, world).json for _ in range(3)]
    before = client.get("/api/v1/statements/HD001/2026-10", headers=world.auth("reviewer")).json
    assert before["backstop_due"] == "17.91"  # 3 × 5.97: the platform's figures
    by_receipt = {v["receipt_number"]: v for v in visits}
    rows = [
        SettlementRow(
            line=n + 2, insurance_code=s["fixmedins_code"], setl_id=s["setl_id"],
            mdtrt_id=s["mdtrt_id"], certno=world.ids["insured_village"],
            setl_time=dt.datetime(2026, 10, 18, 2, 0, tzinfo=dt.UTC),  # settled 3 days later
            medfee_sumamt=s["medfee"], inscp_scp_amt=0, act_pay_dedc=0, hifp_pay=s["fund"],
            fund_pay_sumamt=s["fund"], psn_cash_pay=s["medfee"] - s["fund"],
        )
        for n, s in enumerate(platform.settlements())
        if s["ipt_otp_no"] in by_receipt
    ]
    path = tmp_path / "settlement-2026-10.csv"
    path.write_bytes(settlement_csv(rows))
    out = app.test_cli_runner().invoke(
        args=["reconcile", "import", str(path), "--district", "440114", "--month", "2026-10"]
    )
    assert out.exit_code == 0, out.output
    assert db.session.scalar(select(func.count()).select_from(StatementAdjustment)) == 0
    db.session.rollback()
    after = client.get("/api/v1/statements/HD001/2026-10", headers=world.auth("reviewer")).json
    assert after["backstop_due"] == before["backstop_due"]


def test_a_silent_platform_costs_the_doctor_one_read_time_out(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    import time

    platform.mode(silent=True, hang_seconds=4)
    started = time.monotonic()
    resp = record(client, world)
    assert time.monotonic() - started < 3.5  # the 1.5 s read time-out, not the platform's 4 s
    insurance = resp.json["insurance"]
    assert insurance["status"] == "pending" and insurance["reason"].startswith("unknown: ")
    platform.mode(silent=False)
    clock.advance(minutes=2)
    assert "settled 1" in app.test_cli_runner().invoke(args=["insurance", "retry"]).output
    # The lost message was the day's sign-in, a query: repeated, never reversed with 2601.
    infnos = db.session.scalars(select(InsuranceExchange.infno).order_by(InsuranceExchange.id))
    assert "2601" not in list(infnos)


def test_a_void_while_the_platform_is_down_is_reversed_by_the_retry_loop(
    app: Flask, client: FlaskClient, world: World, platform: Simulator, clock: FixedClock
) -> None:
    visit = record(client, world).json
    assert visit["insurance"]["status"] == "settled"
    platform.stop()
    resp = client.post(
        f"/api/v1/visits/{visit['id']}/void", json={"reason": "wrong patient"},
        headers=world.auth("doctor"),
    )  # fmt: skip
    assert resp.status_code == 200 and resp.json["voided"] is True
    assert resp.json["insurance"]["status"] == "pending"  # its reversal waits for the platform
    platform.start()
    clock.advance(minutes=2)
    out = app.test_cli_runner().invoke(args=["insurance", "retry"])
    assert out.exit_code == 0, out.output
    row = db.session.scalar(select(InsuranceSettlement))
    assert row is not None and row.status == "reversed" and row.voided
    assert [s["status"] for s in platform.settlements()] == ["reversed"]


def test_the_platform_is_sent_national_codes_diagnoses_and_the_practitioner_code(
    client: FlaskClient, world: World, platform: Simulator
) -> None:
    """SPEC §9: 2204 carries the national code beside the clinic's, 2203 the diagnoses,
    2201 the doctor's practitioner code (issue 19 wired into issue 20)."""
    national = "XJ01CAA040A001010100483"
    with unit_of_work() as session:
        item_id = session.scalar(select(CatalogItem.id).where(CatalogItem.code == "AMX01"))
        session.execute(
            update(ItemPrice).where(ItemPrice.item_id == item_id).values(national_code=national)
        )
        session.execute(
            update(User).where(User.username == "doctor").values(practitioner_code="D440114000001")
        )
    # The platform's own catalogue knows amoxicillin by its national code only.
    platform.post(
        "admin/catalogue",
        [{"code": national, "chrgitm_lv": "01", "med_chrgitm_type": "09"}],
    )
    resp = record(client, world, diagnoses=["J06.900"])
    assert resp.status_code == 201, resp.json
    calls = {c.infno: json.loads(c.request)["input"] for c in exchanges(resp.json["id"])}
    assert calls["2201"]["data"]["atddr_no"] == "D440114000001"
    [main] = calls["2203"]["diseinfo"]
    assert (main["diag_code"], main["diag_srt_no"]) == ("J06.900", "1")
    assert calls["2203"]["mdtrtinfo"]["dise_codg"] == "J06.900"
    rows = {r["medins_list_codg"]: r for r in calls["2204"]["feedetail"]}
    assert rows["AMX01"]["med_list_codg"] == national
    assert rows["HY001"]["med_list_codg"] == "HY001"  # no national code recorded: its own
    assert resp.json["insurance"]["status"] == "settled"
