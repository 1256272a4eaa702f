"""Issue 10's acceptance journeys: a village doctor's whole month and the clerks' whole
month, keyboard only, in Chromium at 1024×768.

Nothing is clicked or filled: every action is a key (``Keys`` counts them), and the
focus moves only by Tab, Enter and the access keys the pages offer (Alt+N new visit,
Alt+T today, Alt+R register, Alt+M monthly statements).  The one ``goto`` per sign-in
stands for typing the address.  Every screen is screenshotted to
``test-artifacts/screenshots/j-*.png`` and checked by ``look`` (axe-core, no English,
no overflow or wrap, no focus trap, visible focus).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.visits.models import Visit
from tests.browser.conftest import LiveServer, Traffic
from tests.browser.journey import Keys, look

PRINT_STUB = "window.__printed = 0; window.print = () => { window.__printed += 1; };"
OCT = "2026-10"
SEPT = "2026-09"
WORKED = [("amxl", "12"), ("ffgc", "1"), ("hy", "1")]  # + the consultation fee, pre-added


def printed(page: Any) -> int:
    count: int = page.evaluate("window.__printed")
    return count


def sign_in(keys: Keys, server: LiveServer, username: str) -> None:
    """Type the address, then the user name, Tab, the password, Enter."""
    page = keys.page
    page.goto(server.url + "/login")
    keys.wait_focus("#username")
    keys.type(username)
    keys.press("Tab")
    keys.type("secret-pass")
    keys.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def sign_out(keys: Keys) -> None:
    keys.tab_to("form[action='/logout'] button")
    keys.press("Enter")
    keys.page.wait_for_url("**/login**")


def type_when(keys: Keys, moment: str) -> None:
    """A visit time typed into the focused time box: ``2026-10-03 09:00``."""
    kind = keys.page.evaluate("document.activeElement.type")
    if kind == "datetime-local":  # the browser's own picker: its fields in order
        keys.type(re.sub(r"\D", "", moment))
    else:
        keys.type(moment)


def record_visit(
    keys: Keys,
    id_number: str,
    items: list[tuple[str, str]],
    *,
    injection: bool = True,
    when: str | None = None,
    diagnosis: str = "jxs",
) -> str:
    """One visit from the ID number to the printed receipt; its receipt number."""
    page = keys.page
    keys.wait_focus("#id_number")
    keys.type(id_number)
    keys.press("Enter")
    keys.wait_focus("#dq")
    keys.type(diagnosis)  # the main diagnosis by its pinyin initials
    page.wait_for_selector("#dq-results [aria-selected=true]")
    keys.press("Enter")
    keys.wait_focus("#q")
    for query, quantity in items:
        keys.type(query)
        page.wait_for_selector("#q-results [aria-selected=true]")
        keys.press("Enter")
        keys.wait_focus("#lines-body input[name=quantity]")
        if quantity != "1":
            keys.type(quantity)
    if injection:
        keys.press("F2")
        page.wait_for_function("() => document.getElementById('injection').checked")
    if when is not None:
        # The paper record's time: Enter back to the search, Enter on to the injection
        # box, Tab to "entering a visit from earlier", Enter opens it, Tab to the time.
        keys.press("Enter")
        keys.wait_focus("#q")
        keys.press("Enter")
        keys.wait_focus("#injection")
        keys.press("Tab")
        keys.wait_focus("details.late summary")
        keys.press("Enter")
        keys.press("Tab")
        keys.wait_focus("#visited_at")
        type_when(keys, when)
    page.wait_for_function("() => document.getElementById('t-total').textContent !== '—'")
    keys.press("Control+Enter")
    page.wait_for_url(re.compile(r".*/visits/\d+/receipt$"))
    keys.wait_focus("#print")
    before = printed(page)
    keys.press("Enter")
    assert printed(page) == before + 1
    return page.inner_text("#receipt-number")


def visits_of(server: LiveServer) -> dict[str, Visit]:
    with server.app.app_context():
        rows = db.session.scalars(select(Visit)).all()
        db.session.expunge_all()
        db.session.remove()
    return {v.receipt_number: v for v in rows}


def test_a_village_doctors_month_keyboard_only(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    server = live_server
    ids = server.world.ids
    page.add_init_script(PRINT_STUB)
    keys = Keys(page)

    # --- 15 October: sign in, three visits, each receipt printed ----------------------
    page.goto(server.url + "/")
    page.wait_for_url("**/login**")
    look(page, "j-doctor-01-login")
    keys.wait_focus("#username")
    keys.type("doctor")
    keys.press("Tab")
    keys.type("wrong-pass")
    keys.press("Enter")
    page.wait_for_selector("#login-error")
    look(page, "j-doctor-01-login-refused")
    sign_in(keys, server, "doctor")
    keys.wait_focus("#id_number")
    look(page, "j-doctor-02-new-visit")
    first = record_visit(keys, ids["insured_village"], WORKED)
    look(page, "j-doctor-03-receipt")
    keys.access("n")  # next patient
    page.wait_for_url("**/visits/new")
    second = record_visit(keys, ids["insured_community"], [("amxl", "6")], injection=False)
    keys.access("n")
    page.wait_for_url("**/visits/new")
    third = record_visit(keys, ids["insured_village"], [("ffgc", "2")])
    assert len({first, second, third}) == 3

    # A late entry from the paper book: 3 October, same open month.
    keys.access("n")
    page.wait_for_url("**/visits/new")
    start = len(keys.presses)
    late = record_visit(keys, ids["insured_village"], [("hy", "1")], when="2026-10-03 09:00")
    print(f"\nlate entry: {len(keys.presses) - start} keys with the ID and the time")
    assert "2026-10-03 09:00" in page.inner_text("#visited-at")
    look(page, "j-doctor-04-late-receipt")

    # --- the register: find the late visit by the patient's initials, reprint it ------
    keys.access("r")
    page.wait_for_url("**/visits/register")
    look(page, "j-doctor-05-register")
    keys.tab_to("#date_from")
    keys.type("2026-10-01")
    keys.press("Tab")
    keys.type("2026-10-05")
    keys.press("Tab")
    keys.type("zs")
    keys.press("Enter")
    page.wait_for_selector(f"#register tr[data-receipt='{late}']")
    assert page.locator("#register tr[data-receipt]").count() == 1
    keys.wait_focus(f"tr[data-receipt='{late}'] a.reprint")  # the search lands on it
    look(page, "j-doctor-06-register-found")
    keys.press("Enter")
    page.wait_for_url(re.compile(r".*/receipt$"))
    keys.wait_focus("#print")
    keys.press("Enter")
    assert printed(page) == 1
    assert page.inner_text("#receipt-number") == late

    # --- void the second visit, with a reason, from the register ----------------------
    keys.access("r")
    page.wait_for_url("**/visits/register")
    keys.tab_to("#receipt")
    keys.type(second)
    keys.press("Enter")
    page.wait_for_selector(f"#register tr[data-receipt='{second}']")
    keys.tab_to(f"tr[data-receipt='{second}'] a.void")
    keys.press("Enter")
    page.wait_for_url(re.compile(r".*/void\?back=register$"))
    keys.wait_focus("#reason")
    look(page, "j-doctor-07-void")
    keys.press("Enter")  # no reason yet: refused beside the box, the focus kept there
    page.wait_for_selector("#reason-error:not(:empty)")
    keys.wait_focus("#reason")
    look(page, "j-doctor-07-void-refused")
    keys.type("录错患者，已按现金退回")
    keys.press("Enter")
    page.wait_for_url(lambda url: "/void" not in url)
    look(page, "j-doctor-08-after-void")
    assert visits_of(server)[second].voided

    # --- the daily close: print the sheet and close the day ---------------------------
    keys.access("t")
    page.wait_for_url("**/visits/today")
    look(page, "j-doctor-09-today")
    keys.tab_to("#daily-sheet-link")
    keys.press("Enter")
    page.wait_for_selector("#daily-sheet")
    look(page, "j-doctor-10-daily-sheet")
    assert page.inner_text("#d-visits") == "2" and page.inner_text("#d-voided") == "1"
    keys.tab_to("#print", back=False)
    keys.press("Enter")
    assert printed(page) == 1
    keys.tab_to("#close-day")
    keys.press("Enter")
    page.wait_for_selector(".day-closed")
    look(page, "j-doctor-11-day-closed")
    sign_out(keys)

    # --- 2 November: October has ended; the doctor submits it (one confirmation) ------
    server.clock.set(dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC))  # 09:00 in Shanghai
    sign_in(keys, server, "doctor")
    keys.access("m")
    page.wait_for_url("**/statements")
    look(page, "j-doctor-12-months")
    keys.tab_to(f"tr[data-month='{OCT}'] button.confirm-submit")
    keys.press("Enter")
    page.wait_for_selector("h1 [data-status='submitted']")
    look(page, "j-doctor-13-submitted")
    sign_out(keys)

    # --- the district reviewer opens October and returns it with a reason -------------
    sign_in(keys, server, "reviewer")
    page.wait_for_url("**/board")  # a reviewer starts on the board
    look(page, "j-reviewer-01-board")
    keys.tab_to("tr[data-clinic='HD001'] a.review")
    keys.press("Enter")
    page.wait_for_selector("#return-reason")
    look(page, "j-reviewer-02-statement", full_page=False)
    keys.tab_to("#return-reason")
    keys.type("10月15日李四的就诊已作废但未附退款说明，另10月20日纸质登记未录入，请补录后重新提交")
    keys.press("Enter")
    page.wait_for_selector("h1 [data-status='returned']")
    look(page, "j-reviewer-03-returned")
    sign_out(keys)

    # --- the doctor sees why, fixes the month and submits it again --------------------
    sign_in(keys, server, "doctor")
    keys.access("m")
    page.wait_for_url("**/statements")
    look(page, "j-doctor-14-months-returned")
    assert page.get_attribute(f"tr[data-month='{OCT}'] [data-status]", "data-status") == "returned"
    keys.tab_to(f"tr[data-month='{OCT}'] td a")
    keys.press("Enter")
    page.wait_for_selector("#returned-reason")
    assert "纸质登记未录入" in page.inner_text("#returned-reason")
    assert (
        page.evaluate(
            "() => document.getElementById('returned-reason').getBoundingClientRect().bottom"
        )
        <= 768
    )  # the reason is in view without scrolling
    look(page, "j-doctor-15-returned-statement", full_page=False)
    # The missing paper record of 20 October, then one into the closed 15th.
    keys.access("n")
    page.wait_for_url("**/visits/new")
    added = record_visit(
        keys, ids["insured_community"], [("amxl", "6")], injection=False, when="2026-10-20 16:30"
    )
    keys.access("n")
    page.wait_for_url("**/visits/new")
    into_closed = record_visit(keys, ids["insured_village"], [("hy", "1")], when="2026-10-15 15:00")
    keys.access("r")
    page.wait_for_url("**/visits/register")
    keys.tab_to("#receipt")
    keys.type(into_closed)
    keys.press("Enter")
    page.wait_for_selector(f"#register tr[data-receipt='{into_closed}'] .late-mark")
    look(page, "j-doctor-16-register-late-mark")
    # ... and the duplicate of the 15th, voided.
    keys.tab_to("#receipt")
    keys.press("Control+a")
    keys.type(third)
    keys.press("Enter")
    page.wait_for_selector(f"#register tr[data-receipt='{third}']")
    keys.tab_to(f"tr[data-receipt='{third}'] a.void")
    keys.press("Enter")
    page.wait_for_url(re.compile(r".*/void\?back=register$"))
    keys.wait_focus("#reason")
    keys.type("重复登记")
    keys.press("Enter")
    page.wait_for_url(lambda url: "/void" not in url)
    assert visits_of(server)[third].voided and not visits_of(server)[added].voided

    keys.access("m")
    page.wait_for_url("**/statements")
    keys.tab_to(f"tr[data-month='{OCT}'] button.confirm-submit")
    keys.press("Enter")
    page.wait_for_selector("h1 [data-status='submitted']")
    look(page, "j-doctor-17-resubmitted")
    figures = page.inner_text("dl.st-figures")
    assert "4" in figures  # 6 recorded, 2 voided
    keys.tab_to("#glossary-link", back=True)  # the words of the statement, explained
    keys.press("Enter")
    page.wait_for_url("**/glossary**")
    look(page, "j-doctor-18-glossary")
    sign_out(keys)
    print(f"\nthe doctor's month: {keys.summary()}")
    assert traffic.outside == []


def test_the_clerks_month_keyboard_only(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    from app.settlement.operations import submit_statement
    from tests.integration.test_settlement import record, user

    server = live_server
    with server.app.app_context():
        now = server.clock()
        for day in (3, 17):
            record(server.world, now, at=dt.datetime(2026, 9, day, 2, 0, tzinfo=dt.UTC))
        record(server.world, now, clinic="HD002", doctor="doctor2", injection=False)
        submit_statement("HD001", SEPT, user("doctor"), now)
        submit_statement("HD002", SEPT, user("doctor2"), now)
        db.session.remove()
    keys = Keys(page)

    # --- the town reviewer (赤坭镇) opens 瑞岭村's September and returns it -------------
    sign_in(keys, server, "town_reviewer")
    page.wait_for_url("**/board")
    look(page, "j-clerk-01-town-board")
    assert page.locator("tr[data-clinic]").count() == 1  # only the clinics of the town
    keys.tab_to("tr[data-clinic='HD002'] a.review")
    keys.press("Enter")
    page.wait_for_selector("#return-reason")
    look(page, "j-clerk-02-town-statement", full_page=False)
    keys.tab_to("#return-reason")
    keys.type("9月10日就诊未附处方，请补充后重新提交")
    keys.press("Enter")
    page.wait_for_selector("h1 [data-status='returned']")
    look(page, "j-clerk-03-town-returned")
    sign_out(keys)
    with server.app.app_context():  # 瑞岭村 adds the prescription and submits again
        submit_statement("HD002", SEPT, user("doctor2"), server.clock())
        db.session.remove()

    # --- the district reviewer approves both after opening each -----------------------
    sign_in(keys, server, "reviewer")
    page.wait_for_url("**/board")
    look(page, "j-clerk-04-board")
    for clinic in ("HD001", "HD002"):
        keys.tab_to(f"tr[data-clinic='{clinic}'] a.review")
        keys.press("Enter")
        page.wait_for_selector("#review")
        # Opened at its top: the figures are in view before the approval.
        assert (
            page.evaluate(
                "() => document.querySelector('dl.st-figures').getBoundingClientRect().top"
            )
            < 768
        )
        look(page, f"j-clerk-05-statement-{clinic}", full_page=False)
        keys.tab_to("#review")
        keys.press("Enter")
        page.wait_for_selector("h1 [data-status='reviewed']")
        keys.tab_to("nav a[href^='/board']", back=True)
        keys.press("Enter")
        page.wait_for_url("**/board")
    assert page.locator("[data-status='reviewed']").count() == 2
    look(page, "j-clerk-06-board-reviewed")
    sign_out(keys)

    # --- finance pays 大涡村 alone, then every other reviewed clinic at once ------------
    sign_in(keys, server, "finance")
    page.wait_for_url("**/finance")
    look(page, "j-clerk-07-finance")
    row = "tr[data-clinic='HD001']"
    due = page.input_value(f"{row} input[name=amount]")
    keys.tab_to(f"{row} input[name=reference]")
    keys.type("GZCZ-0917-1")
    keys.press("Tab")
    keys.press("Control+a")
    keys.type("1.00")  # a wrong amount: refused, naming the clinic, the reference kept
    keys.press("Enter")
    page.wait_for_selector(".flash.error")
    assert "HD001" in page.inner_text(".flash.error")
    assert page.input_value(f"{row} input[name=reference]") == "GZCZ-0917-1"
    look(page, "j-clerk-08-finance-refused")
    keys.tab_to(f"{row} input[name=amount]")
    keys.press("Control+a")
    keys.type(due)
    keys.press("Enter")
    page.wait_for_selector(f"{row} [data-status='paid']")
    look(page, "j-clerk-09-finance-paid-one")
    keys.tab_to("#pay-all")
    keys.press("Enter")
    page.wait_for_selector("#confirm-pay-all")
    look(page, "j-clerk-10-pay-all")
    keys.tab_to("input[name=reference]")
    keys.type("GZCZ-0917-BATCH")
    keys.tab_to("input[name=amount]")
    total = page.input_value("input[name=amount]")
    assert total  # the amount is in the box, not grey text over an empty one
    keys.press("Control+a")
    keys.type(total)
    keys.press("Enter")
    page.wait_for_url(re.compile(r".*/finance(\?.*)?$"))
    assert page.locator("tr[data-clinic] [data-status='paid']").count() == 2
    assert page.inner_text("#outstanding") == "¥0.00"
    look(page, "j-clerk-11-finance-all-paid")
    sign_out(keys)
    print(f"\nthe clerks' month: {keys.summary()}")
    assert traffic.outside == []
