"""A settlement month in real Chromium: the doctor submits, the reviewer reviews,
finance pays one clinic and then all the rest, and the statuses follow."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.extensions import db
from app.settlement.operations import submit_statement
from tests.browser.conftest import LiveServer, Traffic, screenshot
from tests.integration.test_settlement import record, user

SEPT = "2026-09"


def sign_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", "secret-pass")
    page.press("#password", "Enter")
    page.wait_for_load_state()
    assert "/login" not in page.url


def sign_out(page: Any) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login**")


def status_of(page: Any, clinic: str) -> str:
    value: str = page.get_attribute(f"tr[data-clinic='{clinic}'] [data-status]", "data-status")
    return value


def test_reviewer_reviews_and_finance_pays(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    server = live_server
    with server.app.app_context():
        now = server.clock()
        for day in (3, 17):
            record(server.world, now, at=dt.datetime(2026, 9, day, 2, 0, tzinfo=dt.UTC))
        record(server.world, now, clinic="HD002", doctor="doctor2", injection=False)
        submit_statement("HD001", SEPT, user("doctor"), now)
        db.session.remove()

    # The doctor of HD002 confirms September after looking at its figures.
    sign_in(page, server, "doctor2")
    page.goto(server.url + "/statements")
    screenshot(page, "settlement-doctor-months")
    # One click (最多点一次): the prepared month is confirmed from the months list.
    page.click(f"tr[data-month='{SEPT}'] button.confirm-submit")
    page.wait_for_load_state()
    assert page.get_attribute("h1 [data-status]", "data-status") == "submitted"
    assert "¥1" in page.inner_text("dl.st-figures")
    screenshot(page, "settlement-doctor-confirm")
    sign_out(page)

    # The district reviewer: the board defaults to the month being settled.
    sign_in(page, server, "reviewer")
    page.goto(server.url + "/board")
    assert status_of(page, "HD001") == "submitted" and status_of(page, "HD002") == "submitted"
    page.click("th a:has-text('区财政兜底')")  # sort by backstop, ascending
    assert page.eval_on_selector_all(
        "tr[data-clinic]", "rows => rows.map(r => r.dataset.clinic)"
    ) == ["HD002", "HD001"]
    screenshot(page, "settlement-board")
    page.click("tr[data-clinic='HD001'] a.review")  # opens the statement: figures first
    page.wait_for_load_state()
    assert "逐日明细" in page.content()
    page.click("#review")
    page.wait_for_load_state()
    page.goto(server.url + "/board")
    assert status_of(page, "HD001") == "reviewed"
    page.click("tr[data-clinic='HD002'] td a >> nth=0")
    assert "逐日明细" in page.content() and "诊疗项目明细" in page.content()
    screenshot(page, "settlement-statement-reviewer")
    page.click("#review")
    page.wait_for_load_state()
    assert page.get_attribute("h1 [data-status]", "data-status") == "reviewed"
    sign_out(page)

    # Finance pays HD001 on its own, then every reviewed clinic at once.
    sign_in(page, server, "finance")
    page.goto(server.url + "/finance")
    assert "<svg" in page.content()
    row = "tr[data-clinic='HD001']"
    due = page.input_value(f"{row} input[name=amount]")  # pre-filled with the due amount
    assert due
    page.fill(f"{row} input[name=reference]", "GZCZ-0917-1")
    page.fill(f"{row} input[name=amount]", "1.00")  # wrong amount: refused
    page.click(f"{row} button.pay")
    page.wait_for_load_state()
    assert "应付兜底" in page.inner_text("main")
    assert status_of(page, "HD001") == "reviewed"
    assert page.input_value(f"{row} input[name=reference]") == "GZCZ-0917-1"  # kept
    page.fill(f"{row} input[name=amount]", due)
    page.click(f"{row} button.pay")
    page.wait_for_load_state()
    assert status_of(page, "HD001") == "paid"
    page.click("#pay-all")
    total = page.input_value("input[name=amount]")  # pre-filled with the total due
    page.fill("input[name=reference]", "GZCZ-0917-BATCH")
    page.fill("input[name=amount]", total)
    page.click("#confirm-pay-all")
    page.wait_for_load_state()
    assert status_of(page, "HD001") == "paid" and status_of(page, "HD002") == "paid"
    assert page.inner_text("#outstanding") == "¥0.00"
    screenshot(page, "settlement-finance")
    assert traffic.outside == []
