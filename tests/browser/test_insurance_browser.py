"""The doctor records visits in real Chromium with the platform simulator configured (issue 20).

Settled: the receipt shows the platform's figures (its price ceiling lowers the
fund) and why they differ.  Then the simulator refuses to settle: the next
visit is 医保待结算 on its receipt and on the pending board, with the reason in
Chinese and the platform's own words; the board's retry settles it once the
platform takes it again.  Screenshots at 1024×768 go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.insurance.models import InsuranceSettlement
from tests.browser.conftest import LiveServer, Traffic, login, screenshot
from tests.browser.test_terminal import WORKED, add_item, enter_patient, wait_total
from tests.simulator import Simulator, load_factory_world

REFUSAL = "医保平台拒绝（门诊结算 2207，返回码 -1）：系统维护中，请稍后再试"


@pytest.fixture
def platform(live_server: LiveServer, tmp_path: Path) -> Iterator[Simulator]:
    sim = Simulator(tmp_path)
    sim.start()
    try:
        load_factory_world(sim, live_server.world.ids)
        # The platform's own ceiling on amoxicillin: its fund is below the expected one.
        sim.post("admin/catalogue", [{"code": "AMX01", "chrgitm_lv": "01",
                                      "price_ceiling": "0.30"}])  # fmt: skip
        live_server.app.config.update(
            INSURANCE_GATEWAY_URL=sim.url,
            INSURANCE_CONNECT_TIMEOUT=1,
            INSURANCE_READ_TIMEOUT=3,
            INSURANCE_PAUSE_AFTER_FAILURE=0,
        )
        yield sim
    finally:
        sim.stop()


def record_visit(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/visits/new")
    enter_patient(page, server.world.ids["insured_village"])
    for query, quantity in WORKED:
        add_item(page, query, quantity)
    page.check("#injection")
    wait_total(page, "¥24.70")
    page.click("#save")
    page.wait_for_url(re.compile(r".*/visits/\d+/receipt$"))


def settlement_statuses(server: LiveServer) -> list[str]:
    with server.app.app_context():
        rows = db.session.scalars(select(InsuranceSettlement).order_by(InsuranceSettlement.id))
        statuses = [r.status for r in rows]
        db.session.remove()
        return statuses


def test_settled_then_refused_then_retried_from_the_board(
    page: Any, live_server: LiveServer, platform: Simulator, traffic: Traffic
) -> None:
    server = live_server
    login(page, server)

    # Settled at recording: the platform's fund (its ceiling) and the backstop follow it.
    record_visit(page, server)
    assert "已与医保平台实时结算" in page.inner_text("#r-insurance")
    assert page.inner_text("#r-fund") == "¥11.73"
    assert page.inner_text("#r-fiscal") == "¥5.97"
    assert page.inner_text("#r-patient") == "¥7.00"
    why = page.inner_text("#r-insurance-why")
    assert "预计" in why and "11.73" in why and "医保支付限价" in why
    screenshot(page, "insurance-01-settled-receipt", full_page=True)
    [settled] = platform.settlements()
    assert settled["fund"] == 1173

    # The platform refuses to settle: the visit is recorded at the expected figures.
    platform.mode(refuse=["2207"])
    record_visit(page, server)
    receipt_url = page.url
    assert "医保待结算" in page.inner_text("#r-insurance")
    # Why, then what 2206 already answered: the platform's fund against the expected one.
    assert page.inner_text("#r-insurance-why").splitlines() == [
        REFUSAL,
        "医保平台预结算：医保基金支付 11.73（预计 12.15）",
        "有项目超出医保支付限价",
    ]
    assert page.inner_text("#r-fund") == "¥12.15"  # expected: the platform has not settled
    assert page.inner_text("#r-patient") == "¥7.00"
    assert "refused" not in page.content()
    screenshot(page, "insurance-02-pending-receipt", full_page=True)
    assert settlement_statuses(server) == ["settled", "pending"]

    # The pending board: the visit, 医保待结算, and why in Chinese with the platform's words.
    page.goto(server.url + "/insurance/pending")
    row = page.locator("#pending tbody tr")
    assert row.count() == 1
    text = row.inner_text()
    assert "HD001-2026-000002" in text and "医保待结算" in text and REFUSAL in text
    screenshot(page, "insurance-03-pending-board")
    # In English too, the platform's own words kept verbatim after ours.
    page.click("button[lang=en]")
    page.wait_for_load_state()
    assert ("Refused by the insurance platform (settlement 2207, code -1): "
            "系统维护中，请稍后再试") in page.inner_text("#pending")  # fmt: skip
    page.click("button[lang=zh-CN]")
    page.wait_for_load_state()
    # The doctor's today page: the badge says 医保待结算 and, on hover, why.
    page.goto(server.url + "/visits/today")
    badge = page.locator(".insurance-pending")
    assert badge.inner_text() == "医保待结算" and badge.get_attribute("title") == REFUSAL
    page.goto(server.url + "/insurance/pending")

    # Still refusing: the retry says so, in Chinese, and the visit stays pending.
    row.locator("button").click()
    page.wait_for_load_state()
    assert REFUSAL in page.inner_text("main")
    assert settlement_statuses(server) == ["settled", "pending"]

    # The platform takes settlements again: the board's retry settles it.
    platform.mode(refuse=[])
    page.locator("#pending tbody tr button").click()
    page.wait_for_load_state()
    assert "收据 HD001-2026-000002 已完成医保结算。" in page.inner_text("main")
    assert page.is_visible("#none-pending")
    screenshot(page, "insurance-04-board-after-retry")
    assert settlement_statuses(server) == ["settled", "settled"]
    assert [s["fund"] for s in platform.settlements()] == [1173, 1173]

    page.goto(receipt_url)
    assert "已与医保平台实时结算" in page.inner_text("#r-insurance")
    assert page.inner_text("#r-fund") == "¥11.73"
    screenshot(page, "insurance-05-settled-after-retry")
    assert traffic.outside == []
