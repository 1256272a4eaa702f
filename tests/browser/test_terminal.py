"""A village doctor's day in real headless Chromium (issue 3).

Each test gets a fresh database and server (see ``conftest.py``); screenshots of
the main pages go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from typing import Any

from sqlalchemy import func, select

from app.auth.models import User
from app.catalog.models import CatalogItem, ItemPrice
from app.database import unit_of_work
from app.extensions import db
from app.oversight.checks import screen
from app.visits.models import Visit
from app.visits.operations import LineRequest, VisitRequest, quote_visit
from app.visits.schemas import QuoteSchema
from tests.browser.conftest import LiveServer, Traffic, login, screenshot

WORKED = [("amxl", "12"), ("ffgc", "1"), ("hy", "1")]  # + the consultation fee, pre-added


def visit_count(server: LiveServer) -> int:
    with server.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Visit)) or 0
        db.session.remove()
        return count


def enter_patient(page: Any, id_number: str) -> None:
    page.fill("#id_number", id_number)
    page.press("#id_number", "Enter")
    page.wait_for_selector("#patient-panel .patient")


def add_item(page: Any, query: str, quantity: str) -> None:
    page.focus("#q")
    page.keyboard.type(query)
    page.wait_for_selector("#q-results [role=option][aria-selected=true]")
    page.keyboard.press("Enter")
    if quantity != "1":
        page.keyboard.type(quantity)  # the new line's quantity is focused and selected
    page.keyboard.press("Enter")  # back to the search box


def wait_total(page: Any, total: str) -> None:
    page.wait_for_function("t => document.getElementById('t-total').textContent === t", arg=total)


def api_quote(server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + "/api/v1/visits/quote",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **server.world.auth("doctor")},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def assert_stayed_local(traffic: Traffic) -> None:
    assert traffic.urls, "no request was recorded"
    assert traffic.outside == [], f"requests left 127.0.0.1: {traffic.outside}"


# --- login ------------------------------------------------------------------------------


def test_login_wrong_password_says_so_without_saying_which(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    page.goto(live_server.url + "/")
    assert "/login" in page.url
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshot(page, "01-login")
    page.fill("#username", "doctor")
    page.fill("#password", "wrong-password")
    page.press("#password", "Enter")
    page.wait_for_selector("#login-error")
    assert page.inner_text("#login-error") == "用户名或密码错误。"
    assert page.input_value("#username") == "doctor"
    assert page.input_value("#password") == ""
    screenshot(page, "01-login-error")
    page.fill("#password", "secret-pass")
    page.press("#password", "Enter")
    page.wait_for_url("**/visits/new")
    assert page.inner_text("h1").startswith("登记就诊")
    page.click("text=退出")
    page.wait_for_url("**/login")
    assert "您已退出登录" in page.inner_text("main")
    assert_stayed_local(traffic)


# --- the new-visit page --------------------------------------------------------------


def test_eligible_patient_live_split_equals_the_api_quote(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    world = live_server.world
    login(page, live_server)
    # The consultation fee is there before anything is typed.
    assert page.locator("#lines-body tr.line").count() == 1
    assert "一般诊疗费" in page.inner_text("#lines-body")

    enter_patient(page, world.ids["insured_village"])
    panel = page.inner_text("#patient-panel")
    assert "一元看病" in panel and "张*" in panel and "大涡村" in panel
    assert "城乡居民医保" in panel and "¥600.00" in panel
    assert page.evaluate("document.activeElement.id") == "dq"  # on to the diagnoses

    for query, quantity in WORKED:
        add_item(page, query, quantity)
    page.check("#injection")
    wait_total(page, "¥24.70")
    shown = {
        name: page.inner_text(f"#t-{name}")
        for name in ("patient", "fund", "fiscal", "total", "registration", "injection")
    }
    assert shown == {
        "patient": "¥7.00",
        "fund": "¥12.15",
        "fiscal": "¥5.55",
        "total": "¥24.70",
        "registration": "¥1.00",
        "injection": "¥1.00",
    }
    assert page.inner_text("#due") == "本次您只需支付 7.00 元"
    amounts = page.locator("#lines-body .amount").all_inner_texts()
    assert amounts == ["¥10.00", "¥4.20", "¥3.50", "¥5.00"]
    screenshot(page, "02-new-visit")

    # The very numbers of the API quote (bearer token) and of quote_visit itself.
    lines = [("DX001", "1"), ("AMX01", "12"), ("FFGC1", "1"), ("HY001", "1")]
    api = api_quote(
        live_server,
        {
            "clinic": "HD001",
            "patient_id_number": world.ids["insured_village"],
            "injection": True,
            "lines": [{"item": c, "quantity": q} for c, q in lines],
        },
    )
    with live_server.app.app_context():
        doctor = db.session.scalar(select(User).where(User.username == "doctor"))
        assert doctor is not None
        direct = QuoteSchema().dump(
            quote_visit(
                VisitRequest(
                    "HD001",
                    world.ids["insured_village"],
                    True,
                    tuple(LineRequest(c, q) for c, q in lines),
                ),
                doctor,
                live_server.clock(),
                screen=screen,
            )
        )
        db.session.remove()
    for totals in (api["totals"], direct["totals"]):
        assert "¥" + totals["patient"]["total"] == shown["patient"]
        assert "¥" + totals["fund"] == shown["fund"]
        assert "¥" + totals["fiscal"] == shown["fiscal"]
        assert "¥" + totals["total"] == shown["total"]
    assert ["¥" + line["amount"] for line in api["lines"]] == amounts

    # The split follows as he types a quantity.
    page.fill("#lines-body tr.line:nth-child(2) input[name=quantity]", "20")
    wait_total(page, "¥27.50")
    assert_stayed_local(traffic)


def test_not_eligible_patients_see_the_reasons(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    world = live_server.world
    login(page, live_server)
    enter_patient(page, world.ids["insured_community"].lower())
    panel = page.inner_text("#patient-panel")
    assert "非一元看病" in panel
    assert "户籍在城镇社区，不在行政村" in panel
    page.wait_for_function("() => document.getElementById('t-total').textContent !== '—'")
    screenshot(page, "02-new-visit-not-eligible")
    wait_total(page, "¥10.00")
    assert page.inner_text("#t-patient") == "¥3.00"  # 30% of the consultation fee
    assert page.inner_text("#due") == "本次您需支付 3.00 元"

    enter_patient(page, world.ids["unknown"])
    page.wait_for_function(
        "() => document.getElementById('patient-panel').textContent.includes('不在本区户籍')"
    )
    wait_total(page, "¥10.00")
    assert page.inner_text("#t-patient") == "¥10.00"

    page.fill("#id_number", "440114199")
    page.press("#id_number", "Enter")
    page.wait_for_selector("#id_number-error:has-text('18 位')")
    assert page.get_attribute("#id_number", "aria-invalid") == "true"
    assert page.inner_text("#t-total") == "—"
    assert_stayed_local(traffic)


def test_pinyin_search_with_arrows(page: Any, live_server: LiveServer) -> None:
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    page.focus("#q")
    page.keyboard.type("jn")  # pinyin initials match from the start only
    page.wait_for_selector("#q-results li.none:has-text('没有匹配的项目')")
    page.fill("#q", "")
    page.keyboard.type("胶囊")
    page.wait_for_selector("#q-results [role=option] >> nth=1")
    options = page.locator("#q-results [role=option] .opt-name").all_inner_texts()
    assert options == ["阿莫西林胶囊", "布洛芬缓释胶囊"]
    page.keyboard.press("ArrowDown")
    screenshot(page, "02-new-visit-search")
    assert page.get_attribute("#q", "aria-activedescendant") == "q-opt-1"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "quantity"
    assert "布洛芬缓释胶囊" in page.inner_text("#lines-body")
    page.keyboard.press("Enter")
    page.keyboard.type("amxl")
    page.wait_for_selector("#q-results [role=option]:has-text('阿莫西林胶囊')")
    assert page.locator("#q-results [role=option]").count() == 1


def test_the_next_items_list_stays_open_when_typed_straight_after_a_pick(
    page: Any, live_server: LiveServer
) -> None:
    """A pick moves the focus to the quantity and a letter brings it back at once: the
    blur of the pick must not close the list shown for that letter (CI saw it vanish
    when the answer came inside the 150 ms the blur waits for a click)."""
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    page.focus("#q")
    page.keyboard.type("amxl")
    page.wait_for_selector("#q-results [aria-selected=true]")
    # Pick, then ask for the next item's list at once (ArrowDown searches without the
    # typing delay), all inside the blur's 150 ms.
    page.evaluate(
        """() => {
            const q = document.getElementById('q');
            q.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
            q.focus();
            q.value = 'ffgc';
            q.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true}));
        }"""
    )
    page.wait_for_selector("#q-results [aria-selected=true]")
    page.wait_for_timeout(400)  # past the blur's timer
    assert page.is_visible("#q-results [aria-selected=true]")
    page.keyboard.press("Enter")
    assert "复方甘草片" in page.inner_text("#lines-body")


# --- saving, receipt, double submit --------------------------------------------------


def test_save_receipt_and_double_submit_record_one_visit(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    world = live_server.world
    login(page, live_server)
    enter_patient(page, world.ids["insured_village"])
    for query, quantity in WORKED:
        add_item(page, query, quantity)
    page.check("#injection")
    wait_total(page, "¥24.70")
    form = {
        "csrf_token": page.input_value("input[name=csrf_token]"),
        "token": page.input_value("input[name=token]"),
        "id_number": world.ids["insured_village"],
        "injection": "1",
        "action": "save",
    }
    page.dblclick("#save")
    page.wait_for_url(re.compile(r".*/visits/\d+/receipt$"))
    receipt_url = page.url
    assert visit_count(live_server) == 1

    text = page.inner_text("#receipt")
    assert re.search(r"HD001-2026-000001", text)
    assert "大涡村卫生站" in text
    assert re.search(r"2026-10-15 10:\d\d", page.inner_text("#visited-at"))
    assert "张*" in text and "4401**********" in text
    assert world.ids["insured_village"] not in page.content()
    assert page.inner_text("#r-fund") == "¥12.15"
    assert page.inner_text("#r-fiscal") == "¥5.55"
    assert page.inner_text("#r-patient") == "¥7.00"
    assert page.inner_text("#r-total") == "¥24.70"
    assert page.inner_text("#r-due") == "本次您只需支付 7.00 元"
    assert page.is_visible("#print")
    screenshot(page, "03-receipt", full_page=True)
    pdf = page.request.get(live_server.url + page.get_attribute("#pdf", "href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    page.reload()  # a reload of the receipt is a GET: nothing is recorded
    assert page.url == receipt_url
    assert visit_count(live_server) == 1

    # The same form posted again (a retry after a network error): the first visit.
    body = "&".join(
        f"{k}={urllib.request.quote(v)}"
        for k, v in [
            ("csrf_token", form["csrf_token"]),
            ("token", form["token"]),
            ("id_number", form["id_number"]),
            ("q", ""),
            ("item", "DX001"),
            ("quantity", "1"),
            ("item", "AMX01"),
            ("quantity", "12"),
            ("item", "FFGC1"),
            ("quantity", "1"),
            ("item", "HY001"),
            ("quantity", "1"),
            ("injection", "1"),
            ("visited_at", ""),
            ("action", "save"),
        ]
    )
    retry = page.request.post(
        live_server.url + "/visits/new",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        max_redirects=0,
    )
    assert retry.status == 303
    assert retry.headers["location"].endswith(receipt_url.replace(live_server.url, ""))
    assert visit_count(live_server) == 1
    assert_stayed_local(traffic)


def test_void_and_the_daily_close_follow(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    world = live_server.world
    login(page, live_server)
    for who, injection in (("insured_village", True), ("insured_community", False)):
        page.goto(live_server.url + "/visits/new")
        enter_patient(page, world.ids[who])
        add_item(page, "amxl", "12")
        if injection:
            page.check("#injection")
        page.wait_for_function(
            "() => document.getElementById('t-total').textContent.startsWith('¥')"
        )
        page.click("#save")
        page.wait_for_url(re.compile(r".*/receipt$"))
    page.click("#today-link")
    page.wait_for_url("**/visits/today")

    def close() -> dict[str, str]:
        keys = ("visits", "programme", "injections", "cash", "fund", "fiscal", "total")
        return {k: page.inner_text(f"#c-{k}") for k in keys}

    assert close() == {
        "visits": "2",
        "programme": "1",
        "injections": "1",
        "cash": "¥6.26",  # 2.00 of fees + 4.26, the 30% the fund leaves a community patient
        "fund": "¥19.88",
        "fiscal": "¥4.26",
        "total": "¥30.40",
    }
    assert page.locator("table.visits tbody tr").count() == 2
    screenshot(page, "04-today")

    row = page.locator("table.visits tbody tr[data-receipt='HD001-2026-000001']")
    row.locator("text=作废").click()
    page.wait_for_url(re.compile(r".*/void$"))
    page.click("#confirm-void")  # no reason: refused, next to the field
    page.wait_for_selector("#reason-error:has-text('请填写作废原因')")
    screenshot(page, "05-void-confirm")
    page.fill("#reason", "录错患者")
    page.click("#confirm-void")
    page.wait_for_url("**/visits/today")
    assert "已作废" in page.inner_text("main")
    assert close() == {
        "visits": "1",
        "programme": "0",
        "injections": "0",
        "cash": "¥4.26",
        "fund": "¥9.94",
        "fiscal": "¥0.00",
        "total": "¥14.20",
    }
    assert "录错患者" in row.inner_text()
    assert_stayed_local(traffic)


# --- keyboard only, no outside requests, page weight ------------------------------------


def test_keyboard_only_visit(page: Any, live_server: LiveServer, traffic: Traffic) -> None:
    kb = page.keyboard
    page.goto(live_server.url + "/login")
    assert page.evaluate("document.activeElement.id") == "username"
    kb.type("doctor")
    kb.press("Tab")
    kb.type("secret-pass")
    kb.press("Enter")
    page.wait_for_url("**/visits/new")
    assert page.evaluate("document.activeElement.id") == "id_number"

    kb.type(live_server.world.ids["insured_village"])  # as a scanner would: digits, Enter
    kb.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'dq'")
    kb.type("jxs")  # 急性上呼吸道感染, the main diagnosis: on to the items
    page.wait_for_selector("#dq-results [aria-selected=true]")
    kb.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'q'")
    assert page.inner_text("#diagnoses-chosen").split()[:2] == ["J06.900", "急性上呼吸道感染"]
    for query, quantity in WORKED:
        kb.type(query)
        page.wait_for_selector("#q-results [aria-selected=true]")
        kb.press("Enter")
        page.wait_for_function("() => document.activeElement.name === 'quantity'")
        kb.type(quantity)
        kb.press("Enter")
        page.wait_for_function("() => document.activeElement.id === 'q'")
    kb.press("Enter")  # an empty search: on to the injection box
    assert page.evaluate("document.activeElement.id") == "injection"
    kb.press("Space")
    wait_total(page, "¥24.70")
    kb.press("Enter")
    assert page.evaluate("document.activeElement.id") == "save"
    kb.press("Enter")
    page.wait_for_url(re.compile(r".*/receipt$"))
    assert page.inner_text("#r-total") == "¥24.70"
    assert page.evaluate("document.activeElement.id") == "print"
    assert visit_count(live_server) == 1
    assert_stayed_local(traffic)


def test_no_request_leaves_127_0_0_1_and_the_page_is_small(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    login(page, live_server)
    responses: list[Any] = []

    def record(response: Any) -> None:
        responses.append(response)

    page.on("response", record)
    page.goto(live_server.url + "/visits/new")
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", record)
    sizes = {
        r.url: len(r.body())
        for r in responses
        if r.request.resource_type in ("document", "stylesheet", "script", "font", "image")
    }
    weight = sum(sizes.values())
    # Static names carry a content hash in production serving: app.<hash>.css.
    assert any(re.search(r"/app(\.[0-9a-f]{12})?\.css$", u) for u in sizes)
    assert any(u.endswith(".js") for u in sizes)
    assert weight < 150 * 1024, f"the new-visit page weighs {weight} bytes: {sizes}"

    # A whole journey, then every URL the browser asked for.
    enter_patient(page, live_server.world.ids["insured_village"])
    add_item(page, "amxl", "2")
    page.wait_for_function("() => document.getElementById('t-total').textContent !== '—'")
    page.click("#save")
    page.wait_for_url(re.compile(r".*/receipt$"))
    page.goto(live_server.url + "/visits/today")
    assert_stayed_local(traffic)
    assert not any("fonts.googleapis" in u or "cdn" in u for u in traffic.urls)


def test_saving_works_without_javascript(
    browser: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    context = browser.new_context(
        viewport={"width": 1024, "height": 768}, java_script_enabled=False
    )
    context.on("request", lambda r: traffic.urls.append(r.url))
    page = context.new_page()
    try:
        login(page, live_server)
        page.fill("#id_number", live_server.world.ids["insured_village"])
        page.press("#id_number", "Enter")  # the first button: look up, never save
        page.wait_for_selector("#patient-panel .patient")
        assert visit_count(live_server) == 0
        page.fill("#q", "amxl")
        page.press("#q", "Enter")
        page.click("button[name=add][value=AMX01]")
        page.fill("#lines-body tr.line:nth-child(2) input[name=quantity]", "abc")
        page.click("#save")
        assert page.inner_text("#lines-1-quantity-error") == "数量应为数字，例如 2 或 0.5。"
        assert page.input_value("#lines-body tr.line:nth-child(2) input[name=quantity]") == "abc"
        page.fill("#lines-body tr.line:nth-child(2) input[name=quantity]", "12")
        page.click("#save")
        page.wait_for_url(re.compile(r".*/receipt$"))
        assert page.inner_text("#r-total") == "¥15.20"  # 10.00 + 4.20 + the 1.00 fee
        assert visit_count(live_server) == 1
    finally:
        context.close()
    assert_stayed_local(traffic)


def test_another_clinics_receipt_is_forbidden(page: Any, live_server: LiveServer) -> None:
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    page.wait_for_function("() => document.getElementById('t-total').textContent !== '—'")
    page.click("#save")
    page.wait_for_url(re.compile(r".*/receipt$"))
    receipt_url = page.url
    page.click("text=退出")
    login(page, live_server, "doctor2")
    response = page.goto(receipt_url)
    assert response is not None and response.status == 403
    assert "无权" in page.inner_text("main")


# --- issue 10: the doctor's traps, and the typical visit in at most 20 keys -------------


class KeyCounter:
    """The keyboard, counting each press (a chord such as Control+Enter counts its keys)."""

    def __init__(self, page: Any) -> None:
        self.kb = page.keyboard
        self.presses: list[str] = []

    def type(self, text: str) -> None:
        self.presses.extend(text)
        self.kb.type(text)

    def press(self, key: str) -> None:
        self.presses.extend(key.split("+"))
        self.kb.press(key)


def stub_print(page: Any) -> None:
    """The print dialog, replaced by a counter (headless Chromium has no printer)."""
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )


def add_injectable(server: LiveServer) -> None:
    """An injectable drug for the typical visit (the test world has none)."""
    with server.app.app_context(), unit_of_work() as session:
        item = CatalogItem(
            code="ZSY01",
            name="注射用青霉素钠",
            kind="drug",
            unit="支",
            insurance_class="A",
            pinyin="zsyqmsn",
            injectable=True,
        )
        item.prices.append(ItemPrice(price=60, valid_from=dt.date(2016, 1, 1)))
        session.add(item)
    with server.app.app_context():
        db.session.remove()


def test_typical_visit_takes_at_most_22_keys_after_the_id(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    """ID, one diagnosis, the consultation fee, three drugs (one injectable), the
    injection, the receipt printed (issue 19 item 6, issue 24 item 7): keyboard only.

    Each search gets the first three letters a doctor types until his item is first.
    """
    add_injectable(live_server)
    login(page, live_server)
    page.keyboard.type(live_server.world.ids["insured_village"])  # the scanner's 18 characters
    keys = KeyCounter(page)
    keys.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'dq'")
    keys.type("jxs")  # the main diagnosis, 急性上呼吸道感染
    page.wait_for_selector("#dq-results [aria-selected=true]")
    keys.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'q'")
    keys.type("amx")
    page.wait_for_selector("#q-results [aria-selected=true]")
    keys.press("Enter")
    page.wait_for_function("() => document.activeElement.name === 'quantity'")
    keys.type("12")
    # A letter in a quantity box starts the next search: no Enter needed in between.
    for query in ("ffg", "zsy"):
        keys.type(query)
        page.wait_for_selector("#q-results [aria-selected=true]")
        keys.press("Enter")
        page.wait_for_function("() => document.activeElement.name === 'quantity'")
    # The injectable ticked the injection: no F2.
    assert page.is_checked("#injection")
    wait_total(page, "¥20.30")
    keys.press("F9")  # save
    page.wait_for_url(re.compile(r".*/receipt$"))
    stub_print(page)
    assert page.evaluate("document.activeElement.id") == "print"
    keys.press("Enter")  # print
    assert page.evaluate("window.__printed") == 1
    assert page.inner_text("#r-total") == "¥20.30"
    assert "J06.900 急性上呼吸道感染" in page.inner_text("#receipt")
    assert visit_count(live_server) == 1
    count = len(keys.presses)
    print(f"\nkeys after the ID number, receipt printed: {count}: {' '.join(keys.presses)}")
    assert count <= 22
    assert_stayed_local(traffic)


def test_searching_the_pre_added_consultation_fee_stays_in_the_search(
    page: Any, live_server: LiveServer
) -> None:
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    assert "诊疗费已自动加入" in page.inner_text(".keys")
    page.keyboard.press("Enter")  # no diagnosis: an empty search goes on to the items
    page.wait_for_function("() => document.activeElement.id === 'q'")
    page.keyboard.type("ybzlf")
    page.wait_for_selector("#q-results [aria-selected=true]")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'q'")
    assert "一般诊疗费已在本次就诊中" in page.inner_text("#split-status")
    add_item(page, "amxl", "12")
    assert page.locator("#lines-body tr.line").count() == 2
    quantities = page.locator("#lines-body input[name=quantity]")
    assert [quantities.nth(i).input_value() for i in range(2)] == ["1", "12"]


def test_a_refused_save_says_why_and_focuses_the_field(page: Any, live_server: LiveServer) -> None:
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    add_item(page, "amxl", "1")
    # A quantity that the live split refuses, then saved at once (Ctrl+Enter).
    page.fill("#lines-body tr.line:nth-child(2) input[name=quantity]", "abc")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#split-status:has-text('数量')")
    # The live split may show the refusal before the save's answer moves the focus:
    # wait for the focus (bounded by Playwright's timeout) rather than race it.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.name === 'quantity'"
    )
    assert page.evaluate("document.activeElement.value") == "abc"
    assert "refused" in (page.get_attribute("#split-status", "class") or "")
    assert visit_count(live_server) == 0
    screenshot(page, "02-new-visit-refused")


def test_a_late_visit_into_a_submitted_month_is_refused_in_the_live_split(
    page: Any, live_server: LiveServer
) -> None:
    from app.settlement.operations import submit_statement

    with live_server.app.app_context():
        doctor = db.session.scalar(select(User).where(User.username == "doctor"))
        assert doctor is not None
        submit_statement("HD001", "2026-09", doctor, live_server.clock())
        db.session.remove()
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    page.click("details.late summary")
    page.fill("#visited_at", "2026-09-20T09:00")
    page.dispatch_event("#visited_at", "change")
    page.wait_for_selector("#split-status:has-text('已提交结算')")
    assert "refused" in (page.get_attribute("#split-status", "class") or "")
    assert page.inner_text("#t-total") == "—"
    assert page.is_hidden("#due")


def test_the_register_finds_an_earlier_visit_and_reprints_it(
    page: Any, live_server: LiveServer
) -> None:
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    page.click("details.late summary")
    page.fill("#visited_at", "2026-10-03T09:00")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*/receipt$"))
    assert page.is_visible("#void-link")
    page.goto(live_server.url + "/visits/register")
    assert page.inner_text("h1").startswith("就诊登记簿")
    page.focus("#patient")
    page.keyboard.type("zs")
    page.keyboard.press("Enter")
    page.wait_for_selector("#register tr[data-receipt]")
    assert page.locator("#register tr[data-receipt]").count() == 1
    assert "2026-10-03 09:00" in page.inner_text("#register")
    assert page.url.split(live_server.host, 1)[1] == "/visits/register"  # nothing in the URL
    screenshot(page, "05-register")
    # Each action fits its cell on one line at 1024 px.
    lines = page.eval_on_selector_all(
        "#register td.actions .button, #register td:nth-child(1),"
        " #register td:nth-child(2) .receipt, #register td:nth-child(2) .doctor",
        """els => els.map(e => {
            const r = document.createRange(); r.selectNodeContents(e);
            return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size;
        })""",
    )
    assert set(lines) == {1}, lines
    page.click("#register a.reprint")
    page.wait_for_url(re.compile(r".*/receipt$"))
    # autofocus lands after the load event on a busy machine: wait for it, bounded.
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'print'")


def test_the_daily_close_sheet_prints_and_closes_the_day(
    page: Any, live_server: LiveServer
) -> None:
    login(page, live_server)
    enter_patient(page, live_server.world.ids["insured_village"])
    page.keyboard.press("F2")
    page.wait_for_function("() => document.getElementById('t-injection').textContent === '¥1.00'")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*/receipt$"))
    page.goto(live_server.url + "/visits/today")
    page.click("#daily-sheet-link")
    page.wait_for_selector("#daily-sheet")
    assert page.inner_text("#d-visits") == "1"
    stub_print(page)
    page.focus("#print")
    page.keyboard.press("Enter")
    assert page.evaluate("window.__printed") == 1
    screenshot(page, "06-daily-sheet", full_page=True)
    page.focus("#close-day")
    page.keyboard.press("Enter")
    page.wait_for_selector(".day-closed")
    assert "已日结" in page.inner_text("#close-status")
    assert page.locator("#close-day").count() == 0
    screenshot(page, "06-daily-sheet-closed")
