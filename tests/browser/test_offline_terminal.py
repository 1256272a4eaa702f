"""A doctor's morning with the village link down (issue 25), in real Chromium.

One persistent profile (its IndexedDB and service worker survive a browser restart):
a visit online; the link goes down (Playwright's offline mode); visits captured
offline — a programme patient, a patient not on the roster, one whose self-pay
drug's price changes on the server meanwhile — a reload and a browser restart in
the middle, another visit after it; the server's clock runs on two hours (the
session expires: the doctor logs in again); back online the queue is uploaded in
order.  Every visit is recorded exactly once (an upload whose answer is lost is
sent again and replayed), receipts are gapless, the conflict is shown in Chinese
with what the doctor can do, nothing is lost, and no offline visit is late.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.catalog.models import CatalogItem, ItemPrice
from app.checks.rules import OversightPolicy, Rule, Severity, oversight_to_json
from app.database import unit_of_work
from app.extensions import db
from app.oversight.checks import screen
from app.policy.models import PolicyVersion
from app.visits.models import Visit, VisitCheck
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, login, screenshot

QUEUE = "() => idbKeyval.values(idbKeyval.createStore('yiyuan-queue', 'visits'))"


def launch(browser: Any, profile: Path) -> Any:
    context = browser.browser_type.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1024, "height": 768},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(15_000)
    # Headless Chromium has no printer: the dialog is a counter.
    context.add_init_script(
        "window.__printed = 0; window.print = () => { window.__printed += 1; };"
    )
    return context


def badge(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => (document.getElementById('offline-badge') || {}).textContent === '待上传 ' + n",
        arg=n,
    )


def enter(page: Any, id_number: str) -> None:
    page.fill("#id_number", id_number)
    page.press("#id_number", "Enter")
    page.wait_for_selector("#patient-panel .patient")


def add(page: Any, query: str, quantity: str) -> None:
    page.focus("#q")
    page.keyboard.type(query)
    page.wait_for_selector("#q-results [role=option][aria-selected=true]")
    page.keyboard.press("Enter")
    if quantity != "1":
        page.keyboard.type(quantity)
    page.keyboard.press("Enter")


def save_offline(page: Any, patient: str) -> str:
    page.wait_for_function(
        "t => document.getElementById('t-patient').textContent === t", arg=patient
    )
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#offline-slip:not([hidden])")
    code = re.search(r"L\d{6}-[A-Z0-9]{4}-\d{2}", page.inner_text("#slip-saved"))
    assert code, page.inner_text("#slip-saved")
    return code.group(0)


def print_slip_and_next(page: Any) -> None:
    assert page.evaluate("document.activeElement.id") == "print-slip"
    page.keyboard.press("Enter")
    assert page.evaluate("window.__printed") >= 1
    with page.expect_navigation():
        page.click("#next-patient")
    page.wait_for_function("() => document.activeElement.id === 'id_number'")


def rows(server: LiveServer) -> list[Visit]:
    with server.app.app_context():
        found = list(db.session.scalars(select(Visit).order_by(Visit.receipt_seq)))
        for visit in found:
            db.session.expunge(visit)
        db.session.remove()
        return found


def test_a_morning_with_the_link_down(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    world, url = live_server.world, live_server.url
    with live_server.app.app_context():
        with unit_of_work() as s:  # late from one hour: the queue's two would make them late
            version = s.scalars(select(PolicyVersion)).one()
            version.oversight = oversight_to_json(
                OversightPolicy(severities={Rule.LATE_ENTRY: Severity.WARN}, late_entry_hours=1)
            )
        db.session.remove()

    profile = tmp_path / "profile"
    context = launch(browser, profile)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server)
    # Online: the service worker keeps the page and assets, the bundle is stored.
    page.wait_for_function("() => window.__offlineKept && window.__offlineKept.bytes > 0")
    badge(page, 0)
    kept = page.evaluate("window.__offlineKept")
    bundle_bytes = page.evaluate(
        "() => idbKeyval.get('bundle', idbKeyval.createStore('yiyuan-terminal', 'meta'))"
        ".then(b => new Blob([JSON.stringify(b)]).size)"
    )
    print(
        f"\ncached by the service worker: {kept['entries']} files, {kept['bytes']} bytes; "
        f"offline bundle in IndexedDB: {bundle_bytes} bytes"
    )

    # 1. A visit online, as always.
    enter(page, world.ids["insured_village"])
    add(page, "amxl", "2")
    page.wait_for_function("() => document.getElementById('t-total').textContent === '¥11.70'")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*/receipt$"))
    assert page.inner_text("#receipt-number") == "HD001-2026-000001"
    page.goto(url + "/visits/new")
    badge(page, 0)

    # The link goes down.
    context.set_offline(True)
    # 2. A programme patient: found on the roster, paid by plain arithmetic.
    enter(page, world.ids["insured_village"])
    assert "一元看病（离线名册）" in page.inner_text("#patient-panel")
    assert world.ids["insured_village"][:4] + "**********" in page.inner_text("#patient-panel")
    add(page, "amxl", "12")
    add(page, "hy", "1")
    page.keyboard.press("F2")
    code2 = save_offline(page, "¥7.00")
    assert page.inner_text("#t-fund") == "上传后计算"
    assert page.inner_text("#t-fiscal") == "上传后计算"
    assert page.inner_text("#slip-due") == "本次您只需支付 7.00 元（预估）"
    slip = page.inner_text("#offline-slip")
    assert "离线临时凭证" in slip and "正式收据号在上传后由服务器生成" in slip
    assert "医保基金和区财政分担" in slip and "¥12.15" not in slip
    assert world.ids["insured_village"] not in page.inner_text("#offline-slip")
    badge(page, 1)
    screenshot(page, "offline-01-slip")
    print_slip_and_next(page)

    # A reload while offline: the page comes from the service worker, the queue stays.
    response = page.reload()
    assert response is not None and response.from_service_worker
    badge(page, 1)
    assert "待上传" in page.inner_text(f"#offline-list li[data-code='{code2}']")

    # 3. A patient not on this clinic's roster: the full amount, said to be provisional.
    enter(page, world.ids["unknown"])
    assert "不在本站离线名册中" in page.inner_text("#patient-panel")
    add(page, "amxl", "2")
    code3 = save_offline(page, "¥10.70")
    assert "暂收 10.70 元" in page.inner_text("#slip-due")
    print_slip_and_next(page)

    # Meanwhile the price of vitamin C (self-pay, class C) changes on the server.
    with live_server.app.app_context():
        with unit_of_work() as s:
            item = s.scalars(select(CatalogItem).where(CatalogItem.code == "VC001")).one()
            old = s.scalars(select(ItemPrice).where(ItemPrice.item_id == item.id)).one()
            old.valid_to = dt.date(2026, 10, 14)
            s.add(ItemPrice(item_id=item.id, price=3, valid_from=dt.date(2026, 10, 15)))
        db.session.remove()

    # 4. The programme patient again, with vitamin C at the price this PC knows.
    enter(page, world.ids["insured_village"])
    add(page, "vc", "10")
    code4 = save_offline(page, "¥1.20")
    print_slip_and_next(page)
    badge(page, 3)

    # The browser is closed (the PC switched off) with three visits waiting, and
    # started again with the link still down: the page comes from the service worker.
    context.close()
    context = launch(browser, profile)
    context.set_offline(True)
    page = context.pages[0] if context.pages else context.new_page()
    response = page.goto(url + "/visits/new")
    assert response is not None and response.from_service_worker
    badge(page, 3)
    # 5. One more visit after the restart, still offline, its slip printed.  (No
    # further navigation in this browser while offline: Playwright's offline
    # emulation stops a service worker that was started under it from answering
    # a second navigation; the reload and "next patient" above cover navigating.)
    enter(page, world.ids["insured_village"])
    code5 = save_offline(page, "¥1.00")
    page.keyboard.press("Enter")
    assert page.evaluate("window.__printed") == 1
    badge(page, 4)
    screenshot(page, "offline-02-queue")
    queued = page.evaluate(QUEUE)
    assert sorted(r["code"] for r in queued) == sorted([code2, code3, code4, code5])
    assert len({r["key"] for r in queued}) == 4
    assert rows(live_server) and len(rows(live_server)) == 1  # nothing reached the server

    # Two hours on, the link is back; the session has ended meanwhile.
    live_server.clock.set(live_server.clock() + dt.timedelta(hours=2))
    # The first upload's answer is lost on the way back: it is sent again later.
    lost = {"n": 0}

    def lose_first_answer(route: Any) -> None:
        if lost["n"] == 0:
            lost["n"] += 1
            route.fetch()  # the server records it ...
            route.abort()  # ... and the answer never arrives
        else:
            route.continue_()

    context.route("**/visits/offline/sync", lose_first_answer)
    context.set_offline(False)
    page.wait_for_selector("#offline-login:not([hidden])")
    badge(page, 4)
    page.click("#offline-login a")
    page.fill("#username", "doctor")
    page.fill("#password", "secret-pass")
    page.press("#password", "Enter")
    page.wait_for_url("**/visits/new")
    # The first upload reached the server but its answer was lost: it waits again.
    for _ in range(150):
        if lost["n"]:
            break
        page.wait_for_timeout(100)
    page.wait_for_function(
        "c => { const li = document.querySelector(`#offline-list li[data-code='${c}']`);"
        " return li && li.classList.contains('state-pending'); }",
        arg=code2,
    )
    assert lost["n"] == 1 and len(rows(live_server)) == 2
    page.evaluate("terminalOffline.sync()")  # the next round (it also runs every 20 s)
    # Uploaded in capture order, the first one replayed (recorded once).
    page.wait_for_function(
        "() => document.querySelectorAll('#offline-list .state-synced').length === 3"
        " && document.querySelectorAll('#offline-list .state-conflict').length === 1"
    )
    badge(page, 1)

    # The conflict, in Chinese, with what the doctor can do.
    conflict = page.locator(f"#offline-list li[data-code='{code4}']")
    text = conflict.inner_text()
    assert "服务器未接收" in text
    assert "服务器计算的个人负担与离线临时凭证不同" in text
    assert "服务器：个人负担 1.30 元" in text
    assert "按服务器金额 1.30 元确认上传" in text and "放弃（需填写原因）" in text
    screenshot(page, "offline-03-conflict", full_page=True)
    conflict.locator("button.discard").click()  # no reason: refused, nothing discarded
    assert conflict.locator("input.discard-reason").get_attribute("aria-invalid") == "true"
    conflict.locator("button.accept-server").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#offline-list .state-synced').length === 4"
    )
    badge(page, 0)

    visits = rows(live_server)
    assert [v.receipt_seq for v in visits] == [1, 2, 3, 4, 5]  # gapless, each once
    by_code = {v.offline_code: v for v in visits if v.offline_code}
    assert sorted(by_code) == sorted([code2, code3, code4, code5])
    assert [v.offline_code for v in visits[1:]] == [code2, code3, code5, code4]
    assert (by_code[code2].patient, by_code[code2].programme, by_code[code2].fund) == (
        700,
        True,
        994,
    )
    assert (by_code[code3].patient, by_code[code3].programme) == (1070, False)
    assert by_code[code4].patient == 130
    for visit in by_code.values():
        assert visit.captured_at is not None
        assert visit.recorded_at - visit.captured_at >= dt.timedelta(hours=2)
    with live_server.app.app_context():
        assert db.session.scalars(select(VisitCheck)).all() == []  # none late
        db.session.remove()

    # The official receipt, printable afterwards, carries the slip's number.
    assert errors == []
    page.locator(f"#offline-list li[data-code='{code2}'] a.receipt-link").click()
    page.wait_for_url(re.compile(r".*/receipt$"))
    assert page.inner_text("#offline-code").startswith(code2)
    assert page.inner_text("#receipt-number") == by_code[code2].receipt_number
    context.close()


def test_the_terminal_stays_light(page: Any, live_server: LiveServer) -> None:
    """What the service worker keeps for offline work, measured (stated in the README)."""
    login(page, live_server)
    page.wait_for_function("() => window.__offlineKept && window.__offlineKept.bytes > 0")
    kept = page.evaluate("window.__offlineKept")
    assert kept["bytes"] < 200 * 1024, kept


def wait_for_bundle(page: Any) -> None:
    """Until the terminal has stored its bundle (evaluate awaits the IndexedDB promise)."""
    for _ in range(150):
        if page.evaluate(
            "() => idbKeyval.get('bundle', idbKeyval.createStore('yiyuan-terminal', 'meta'))"
            ".then(b => !!b)"
        ):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the terminal stored no offline bundle")


KEPT = (
    "() => navigator.serviceWorker.getRegistration('/visits/')"
    ".then(r => !!(r && r.active))"
    ".then(ok => ok && caches.open('terminal-v1')"
    ".then(c => c.match('/visits/new')).then(r => !!r))"
)


def wait_until_page_kept(page: Any) -> None:
    """Until the active service worker keeps the terminal page, as a doctor's second
    load of the day would (on a busy machine the first load may not have left it)."""
    for attempt in range(60):
        if page.evaluate(KEPT):
            return
        if attempt % 10 == 9:
            page.reload()  # a navigation through the active worker keeps the page
        page.wait_for_timeout(500)
    raise AssertionError("the service worker did not keep the terminal page")


def test_offline_payment_is_what_the_server_charges(page: Any, live_server: LiveServer) -> None:
    """The terminal's arithmetic (integer fen, half up) against the engine, with the
    class-B self-pay part left to the patient and quantities that round."""
    from app.auth.models import User
    from app.visits.operations import LineRequest, VisitRequest, quote_visit

    with live_server.app.app_context():
        with unit_of_work() as s:
            version = s.scalars(select(PolicyVersion)).one()
            version.class_b_selfpay_backstopped = False
        db.session.remove()
    login(page, live_server)
    wait_for_bundle(page)
    world = live_server.world
    carts = [
        ("insured_village", False, [("DX001", "1"), ("FFGC1", "3")]),
        ("insured_village", True, [("DX001", "1"), ("BSJ01", "0.5"), ("VC001", "7")]),
        ("insured_village", True, [("FFGC1", "1.333"), ("HY001", "2"), ("MZ001", "0.25")]),
        ("unknown", False, [("DX001", "1"), ("BSJ01", "3"), ("ZS001", "1")]),
    ]
    for who, injection, lines in carts:
        body = {
            "patient_id_number": world.ids[who],
            "injection": injection,
            "visited_at": None,
            "lines": [{"item": c, "quantity": q} for c, q in lines],
        }
        offline = page.evaluate(
            "b => terminalOffline.answer("
            "document.getElementById('visit-form').dataset.quoteUrl, b)",
            body,
        )
        with live_server.app.app_context():
            doctor = db.session.scalar(select(User).where(User.username == "doctor"))
            assert doctor is not None
            split = quote_visit(
                VisitRequest(
                    "HD001", world.ids[who], injection, tuple(LineRequest(c, q) for c, q in lines)
                ),
                doctor,
                live_server.clock(),
                screen=screen,
            ).split
            db.session.remove()
        assert offline.get("ok"), offline
        assert (offline["programme"], offline["patient"]) == (split.programme, split.patient), (
            who,
            lines,
        )
        assert offline["total"] == split.total


def test_a_refused_visit_is_changed_or_discarded_never_dropped(
    page: Any, live_server: LiveServer
) -> None:
    world = live_server.world
    login(page, live_server)
    wait_for_bundle(page)
    wait_until_page_kept(page)  # "next patient" below is a navigation while offline
    badge(page, 0)
    page.context.set_offline(True)
    enter(page, world.ids["insured_village"])
    add(page, "hy", "1")
    code_a = save_offline(page, "¥6.00")
    captured_a = page.evaluate(QUEUE)[0]["captured_at"]
    with page.expect_navigation():
        page.click("#next-patient")
    enter(page, world.ids["insured_community"])  # not on the roster: the full amount
    code_b = save_offline(page, "¥10.00")
    badge(page, 2)
    with live_server.app.app_context():  # 换药 costs 6.00 from today
        with unit_of_work() as s:
            item = s.scalars(select(CatalogItem).where(CatalogItem.code == "HY001")).one()
            old = s.scalars(select(ItemPrice).where(ItemPrice.item_id == item.id)).one()
            old.valid_to = dt.date(2026, 10, 14)
            s.add(ItemPrice(item_id=item.id, price=600, valid_from=dt.date(2026, 10, 15)))
        db.session.remove()

    page.context.set_offline(False)
    page.wait_for_function(
        "() => document.querySelectorAll('#offline-list .state-conflict').length === 2"
    )
    b = page.locator(f"#offline-list li[data-code='{code_b}']")
    assert "户籍登记与离线临时凭证不符" in b.inner_text() or "个人负担" in b.inner_text()
    assert "服务器：个人负担 3.00 元" in b.inner_text()
    # B: the patient left; discarded with a reason, and still listed with it.
    b.locator("input.discard-reason").fill("患者未取药，已全额退款")
    b.locator("button.discard").click()
    page.wait_for_function(
        "c => document.querySelector(`#offline-list li[data-code='${c}']`)"
        ".classList.contains('state-discarded')",
        arg=code_b,
    )
    assert "已放弃：患者未取药，已全额退款" in b.inner_text()

    # A: the doctor changes the items (换药 now costs more: he leaves it out).
    a = page.locator(f"#offline-list li[data-code='{code_a}']")
    assert "服务器：个人负担 7.00 元" in a.inner_text()
    a.locator("button.edit-items").click()
    assert page.is_visible("#offline-editing")
    assert code_a in page.inner_text("#offline-editing")
    page.wait_for_selector("#patient-panel .patient")
    page.locator("#lines-body tr.line[data-code='HY001'] button.remove").click()
    page.wait_for_function("() => document.getElementById('t-total').textContent === '¥11.00'")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "c => { const li = document.querySelector(`#offline-list li[data-code='${c}']`);"
        " return li && li.classList.contains('state-synced'); }",
        arg=code_a,
    )
    badge(page, 0)
    (visit,) = rows(live_server)
    assert visit.offline_code == code_a and visit.patient == 100
    assert visit.captured_at is not None
    assert visit.captured_at == dt.datetime.fromisoformat(captured_a).astimezone(dt.UTC)
    kept = {r["code"]: r for r in page.evaluate(QUEUE)}
    assert kept[code_b]["state"] == "discarded" and kept[code_b]["body"] is None
    assert kept[code_a]["body"] is None  # no ID number left on the PC once recorded


def test_a_save_the_link_drops_is_restored_and_never_doubled(
    page: Any, live_server: LiveServer
) -> None:
    """The page thought it was online; the save's post reached the server but its answer
    was lost (the link dropped).  The service worker keeps the form; the page restores
    it and queues it under the form's own key: the upload returns that same visit."""
    world = live_server.world
    login(page, live_server)
    wait_for_bundle(page)
    badge(page, 0)
    page.reload()  # now served through the service worker
    badge(page, 0)
    enter(page, world.ids["insured_village"])
    add(page, "amxl", "2")
    page.wait_for_function("() => document.getElementById('t-total').textContent === '¥11.70'")
    dropped = {"n": 0}

    def drop_answer(route: Any) -> None:
        if route.request.method == "POST" and dropped["n"] == 0:
            dropped["n"] += 1
            route.fetch()  # recorded on the server ...
            route.abort("internetdisconnected")  # ... the answer never comes back
        else:
            route.fallback()

    page.context.route("**/visits/new", drop_answer)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#offline-editing:not([hidden])")
    assert dropped["n"] == 1 and len(rows(live_server)) == 1
    assert "服务器未确认本次就诊" in page.inner_text("#offline-editing")
    assert page.input_value("#id_number") == world.ids["insured_village"]
    assert page.locator("#lines-body tr.line").count() == 2
    code = save_offline(page, "¥1.00")
    page.context.unroute("**/visits/new", drop_answer)
    page.evaluate("terminalOffline.sync()")
    page.wait_for_function(
        "c => { const li = document.querySelector(`#offline-list li[data-code='${c}']`);"
        " return li && li.classList.contains('state-synced'); }",
        arg=code,
    )
    (visit,) = rows(live_server)  # the one visit, not a second
    assert visit.offline_code is None  # the post recorded it, online
    assert f"HD001-2026-{visit.receipt_seq:06d}" in page.inner_text(
        f"#offline-list li[data-code='{code}']"
    )
