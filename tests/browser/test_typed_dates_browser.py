"""Dates on an English-locale PC (issue 10 item 10), in real Chromium.

The browser runs with ``locale="en-US"``, as on a PC bought in a shop: a native
date, month or time picker would show English month names and ``11/29/2026``,
and a ``required`` field would pop up "Please fill out this field".  Every
date box here is a text box, every form is ``novalidate``; the clerk and the
doctor type dates, submit an empty and a bad one, and read the server's
Chinese message naming the box, with what they typed still in it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.settlement.operations import review_statement, submit_statement
from tests.browser.conftest import LiveServer, Traffic, login, screenshot
from tests.browser.test_settlement_browser import sign_in, sign_out
from tests.browser.test_terminal import enter_patient
from tests.integration.test_settlement import record, user

SEPT = "2026-09"
DATE_BOXES = "#date_from, #date_to, #day, #visited_at, #month, #upload-month, [name=paid_on]"


@pytest.fixture
def en_page(browser: Any, live_server: LiveServer, traffic: Traffic) -> Iterator[Any]:
    """A page in a context whose browser language is American English."""
    context = browser.new_context(
        viewport={"width": 1024, "height": 768}, locale="en-US", timezone_id="Asia/Shanghai"
    )

    def guard(route: Any) -> None:
        traffic.urls.append(route.request.url)
        if route.request.url.startswith(live_server.url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


def no_native_pickers_or_bubbles(page: Any) -> None:
    """Every date-like box is a text box and no form lets the browser validate."""
    found = page.evaluate(
        """(sel) => ({
            types: [...document.querySelectorAll(sel)].map(i => i.type),
            pickers: document.querySelectorAll(
              'input[type=date], input[type=month], input[type=time], ' +
              'input[type=datetime-local], input[type=week]').length,
            validating: [...document.forms].filter(f => !f.noValidate).length,
            patterns: document.querySelectorAll('input[pattern]').length,
        })""",
        DATE_BOXES,
    )
    assert found["pickers"] == 0 and found["validating"] == 0 and found["patterns"] == 0, found
    assert set(found["types"]) <= {"text"}, found


def validation_message(page: Any, selector: str) -> str:
    """The browser's own message for a box ("" when the browser has nothing to say)."""
    message: str = page.eval_on_selector(selector, "i => i.validationMessage")
    return message


def seed_september(server: LiveServer) -> None:
    with server.app.app_context():
        now = server.clock()
        record(server.world, now, at=dt.datetime(2026, 9, 3, 2, 0, tzinfo=dt.UTC))
        record(server.world, now, clinic="HD002", doctor="doctor2", injection=False)
        submit_statement("HD001", SEPT, user("doctor"), now)
        submit_statement("HD002", SEPT, user("doctor2"), now)
        review_statement("HD001", SEPT, user("reviewer"), now, "")
        db.session.remove()


def test_doctor_types_dates_in_the_register_daily_close_and_late_visit(
    en_page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    page, server = en_page, live_server
    sign_in(page, server, "doctor")
    assert page.evaluate("navigator.language") == "en-US"

    # The late-entry visit time on the terminal: a text box showing the form to type.
    page.goto(server.url + "/visits/new")
    no_native_pickers_or_bubbles(page)
    assert page.get_attribute("#visited_at", "placeholder") == "2026-11-29 09:30"

    # The register's date range.
    page.goto(server.url + "/visits/register")
    no_native_pickers_or_bubbles(page)
    assert page.input_value("#date_from") == "2026-10-01"  # shown as 2026-10-01, not 10/01/2026
    page.fill("#date_from", "2026/10/01")
    page.fill("#date_to", "20261015")
    page.press("#date_to", "Enter")
    page.wait_for_load_state()
    assert page.inner_text("#date_from-error") == ""
    page.fill("#date_from", "10/01/2026")
    page.click("#search")
    page.wait_for_load_state()
    # No English bubble: the form was sent and the server answered in Chinese.
    assert "起始日期" in page.inner_text("#date_from-error")
    assert "2026-11-29" in page.inner_text("#date_from-error")
    assert page.input_value("#date_from") == "10/01/2026"
    assert validation_message(page, "#date_from") == ""
    screenshot(page, "dates-register-bad-date")

    # The daily close sheet's day box.
    page.goto(server.url + "/visits/daily")
    no_native_pickers_or_bubbles(page)
    page.fill("#day", "2026/10/14")
    page.press("#day", "Enter")
    page.wait_for_load_state()
    assert page.input_value("#day") == "2026-10-14" and "2026-10-14" in page.inner_text("h1")
    page.fill("#day", "14 Oct")
    page.click("#show-day")
    page.wait_for_load_state()
    assert "日期：请按 2026-11-29" in page.inner_text("#day-error")
    assert page.input_value("#day") == "14 Oct"
    screenshot(page, "dates-daily-bad-day")
    assert traffic.outside == []


def test_clerks_type_months_and_payment_dates(
    en_page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    page, server = en_page, live_server
    seed_september(server)

    # The reviewer's board: the month box, typed as 2026/09.
    sign_in(page, server, "reviewer")
    page.goto(server.url + "/board?month=2026-10")
    no_native_pickers_or_bubbles(page)
    page.fill("#month", "2026/09")
    page.press("#month", "Enter")
    page.wait_for_load_state()
    assert page.input_value("#month") == SEPT and SEPT in page.inner_text("h1")
    page.fill("#month", "Sept")
    page.press("#month", "Enter")
    page.wait_for_load_state()
    assert "请检查月份：月份请写成 2026-11" in page.inner_text("#month-error")
    assert page.input_value("#month") == "Sept"
    # A return with no reason: the server asks for it, in Chinese, naming it.
    page.goto(server.url + f"/statements/HD002/{SEPT}")
    no_native_pickers_or_bubbles(page)
    page.click("#return")
    page.wait_for_load_state()
    assert "请填写：原因" in page.inner_text("main")
    sign_out(page)

    # Finance: the month box, then one clinic's payment with an empty and a bad date.
    sign_in(page, server, "finance")
    page.goto(server.url + "/finance?month=202609")
    no_native_pickers_or_bubbles(page)
    assert page.input_value("#month") == SEPT
    row = "tr[data-clinic='HD001']"
    paid_on = f"{row} input[name=paid_on]"
    assert page.input_value(paid_on) == "2026-10-15"
    page.fill(f"{row} input[name=reference]", "GZCZ-0915-1")
    page.fill(paid_on, "")
    page.click(f"{row} button.pay")
    page.wait_for_load_state()
    assert "HD001 大涡村卫生站：请填写：拨付日期" in page.inner_text("main")
    assert page.input_value(f"{row} input[name=reference]") == "GZCZ-0915-1"
    page.fill(paid_on, "10/15/2026")
    page.click(f"{row} button.pay")
    page.wait_for_load_state()
    assert "请检查拨付日期：日期请写成 2026-11-29" in page.inner_text("main")
    assert page.input_value(paid_on) == "10/15/2026"
    screenshot(page, "dates-finance-bad-date")
    page.fill(paid_on, "2026/10/15")
    page.click(f"{row} button.pay")
    page.wait_for_load_state()
    assert page.get_attribute(f"{row} [data-status]", "data-status") == "paid"
    assert "2026-10-15 GZCZ-0915-1" in page.inner_text(row)

    # Reconciliation: the month box and the upload's month, empty.
    page.goto(server.url + "/reconcile")
    no_native_pickers_or_bubbles(page)
    page.fill("#month", "09-2026")
    page.press("#month", "Enter")
    page.wait_for_load_state()
    assert "月份：请按 2026-10" in page.inner_text("#month-error")
    page.fill("#upload-month", "")
    page.click("form.upload button.primary")
    page.wait_for_load_state()
    errors = page.inner_text("form.upload")
    assert "结算月份" in errors and "请按 2026-10 的格式输入月份" in errors
    # The file box: the browser's own "Choose File / No file chosen" lies transparent
    # under our Chinese button; the chosen file's name is shown in its place.
    assert page.eval_on_selector("#upload-file", "i => getComputedStyle(i).opacity") == "0"
    picker = page.inner_text(".file-pick")
    assert "选择文件" in picker and "未选择文件" in picker
    screenshot(page, "dates-reconcile-empty")
    page.focus("#upload-file")
    page.set_input_files(
        "#upload-file", files=[{"name": "2026-09.csv", "mimeType": "text/csv", "buffer": b"x"}]
    )
    expect(page.locator("#upload-file-name")).to_have_text("2026-09.csv")
    assert traffic.outside == []


def test_the_late_visit_time_is_typed_as_on_paper(
    en_page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    """The live split reads 2026/09/20 9:00 as a time (a submitted month: refused for
    that reason), names the visit time for 9/20/2026, and saves 2026/10/03 9:00."""
    page, server = en_page, live_server
    with server.app.app_context():
        record(server.world, server.clock(), at=dt.datetime(2026, 9, 3, 2, 0, tzinfo=dt.UTC))
        submit_statement("HD001", SEPT, user("doctor"), server.clock())
        db.session.remove()
    login(page, server)
    enter_patient(page, server.world.ids["insured_village"])
    page.click("details.late summary")
    page.fill("#visited_at", "2026/09/20 9:00")
    page.dispatch_event("#visited_at", "change")
    page.wait_for_selector("#split-status:has-text('已提交结算')")
    page.fill("#visited_at", "9/20/2026 9:00")
    page.dispatch_event("#visited_at", "change")
    page.wait_for_selector("#visited_at-error:has-text('就诊时间请写成 2026-11-29 09:30')")
    assert validation_message(page, "#visited_at") == ""
    screenshot(page, "dates-terminal-bad-time")
    page.fill("#visited_at", "2026/10/03 9:00")
    page.dispatch_event("#visited_at", "change")
    expect(page.locator("#visited_at-error")).to_have_text("")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*/receipt$"))
    assert "2026-10-03 09:00" in page.inner_text("#visited-at")
    assert traffic.outside == []
