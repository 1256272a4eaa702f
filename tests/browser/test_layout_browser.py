"""At 1024×768 nothing wraps or overflows (issue 10 item 6), and the doctor's months
list shows each month's real status, a returned one with its reason (item 7).

Each page is opened as its user would, at 1024×768 in Chromium, screenshotted,
and measured: the document never scrolls sideways, and the named pieces (作废,
receipt numbers, clinic names, 待拨付（已审核）, the board's flags, status
badges, the payment form) each render on one line — counted from the boxes of
their text, so a word broken over two lines is caught whatever the font.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from playwright.sync_api import expect

from app.extensions import db
from app.oversight.models import ClinicFlag
from app.places.models import Clinic
from app.settlement.operations import return_statement, review_statement, submit_statement
from app.visits.operations import void_visit
from tests.browser.conftest import LiveServer, Traffic, screenshot
from tests.browser.test_settlement_browser import sign_in, sign_out
from tests.factories import set_oversight_policy
from tests.integration.test_settlement import record, user

SEPT, AUG = "2026-09", "2026-08"
RETURN_REASON = "8月12日注射费重复，请核对后重新提交"
BOARD_REASON = "9月10日注射费与处方不符，请核对注射次数后重新提交，并附处方复印件"

# How many lines each matched element's text takes (text boxes grouped by their middle).
LINES = """(sel) => [...document.querySelectorAll(sel)].map(el => {
  const middles = [];
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(walk.currentNode);
    for (const box of range.getClientRects()) {
      if (box.width < 1) continue;
      const mid = (box.top + box.bottom) / 2;
      if (!middles.some(m => Math.abs(m - mid) < box.height / 2)) middles.push(mid);
    }
  }
  return [el.textContent.trim(), middles.length];
})"""


def wrapped(page: Any, selector: str) -> list[str]:
    """The texts of ``selector``'s elements that take more than one line (must be none)."""
    found = page.evaluate(LINES, selector)
    assert found, f"nothing matches {selector}"
    return [text for text, lines in found if lines > 1]


def no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def one_row(page: Any, selector: str) -> None:
    """Every control of each matched form sits on one row (same vertical middle)."""
    rows = page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].map(form =>
             [...form.querySelectorAll('input:not([type=hidden]), button')].map(el => {
               const r = el.getBoundingClientRect(); return Math.round((r.top + r.bottom) / 2);
             }))""",
        selector,
    )
    assert rows and all(max(r) - min(r) <= 2 for r in rows), rows


def seed(server: LiveServer) -> None:
    """August returned, September: HD002 reviewed, HD001 submitted under review and
    flagged; today: three visits at HD001, one voided with a reason."""
    with server.app.app_context():
        now = server.clock()
        record(server.world, now, at=dt.datetime(2026, 8, 12, 2, 0, tzinfo=dt.UTC))
        submit_statement("HD001", AUG, user("doctor"), now)
        return_statement("HD001", AUG, RETURN_REASON, user("reviewer"), now)
        record(server.world, now, clinic="HD002", doctor="doctor2", injection=False)
        submit_statement("HD002", SEPT, user("doctor2"), now)
        review_statement("HD002", SEPT, user("reviewer"), now)
        # HD003's September, returned: 已退回 with its reason on the board and 全区汇总.
        record(server.world, now, clinic="HD003", doctor="doctor3")
        submit_statement("HD003", SEPT, user("doctor3"), now)
        return_statement("HD003", SEPT, BOARD_REASON, user("reviewer"), now)
        set_oversight_policy(review=True)
        for day in (3, 9, 17):
            record(server.world, now, at=dt.datetime(2026, 9, day, 2, 0, tzinfo=dt.UTC))
        submit_statement("HD001", SEPT, user("doctor"), now)
        clinic = db.session.query(Clinic).filter_by(code="HD001").one()
        for figure, value, score in (
            ("cost_per_visit", "7177", "29.8"),
            ("injection_rate", "1", "12.9"),
        ):
            db.session.add(
                ClinicFlag(
                    clinic_id=clinic.id,
                    month=SEPT,
                    figure=figure,
                    value=value,
                    median=str(Decimal(value) / 3),
                    mad="1",
                    score=score,
                    peers=6,
                    computed_at=now,
                )
            )
        db.session.commit()
        visits = [record(server.world, now, at=None) for _ in range(3)]
        void_visit(visits[1].id, "录错患者，已重新登记", user("doctor"), now)
        db.session.remove()


def test_nothing_wraps_or_overflows_at_1024(
    page: Any, live_server: LiveServer, traffic: Traffic
) -> None:
    server = live_server
    seed(server)
    assert page.viewport_size == {"width": 1024, "height": 768}

    sign_in(page, server, "doctor")
    page.goto(server.url + "/visits/today")
    screenshot(page, "layout-today")
    no_sideways_scroll(page)
    assert wrapped(page, "#visits a.button") == []  # 作废
    assert wrapped(page, "#visits tr[data-receipt] td:nth-child(2)") == []  # receipt numbers
    assert wrapped(page, "#visits .badge") == []

    page.goto(server.url + "/visits/register")
    screenshot(page, "layout-register-doctor")
    no_sideways_scroll(page)
    # The receipt number on one line, the doctor's name on its own line under it.
    assert wrapped(page, "#register tr[data-receipt] td:nth-child(2) .receipt") == []
    assert wrapped(page, "#register tr[data-receipt] td:nth-child(2) .doctor") == []
    assert wrapped(page, "#register td.actions") == []  # 补打 作废
    assert wrapped(page, "#register thead th") == []

    # Item 7: each month's own status; the returned one says why and links to it.
    page.goto(server.url + "/statements")
    screenshot(page, "layout-doctor-months")
    no_sideways_scroll(page)
    statuses = page.eval_on_selector_all(
        "#months tr[data-month]",
        "rows => Object.fromEntries(rows.map(r => [r.dataset.month,"
        " r.querySelector('[data-status]').textContent]))",
    )
    assert statuses[AUG] == "已退回" and statuses[SEPT] == "已提交"
    assert statuses["2026-10"] == "未提交"
    assert wrapped(page, "#months td.status") == []
    page.click(f"tr[data-month='{AUG}'] a.returned-reason")
    page.wait_for_url(f"**/statements/HD001/{AUG}#returned-reason")
    reason = page.locator("#returned-reason")
    assert RETURN_REASON in reason.inner_text()
    box = reason.bounding_box()
    assert box is not None and box["y"] >= -1 and box["y"] + box["height"] <= 768
    page.goto(server.url + f"/statements/HD001/{AUG}")  # opened from anywhere: at the top
    box = page.locator("#returned-reason").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768  # seen without scrolling
    assert page.get_attribute("h1 [data-status]", "data-status") == "returned"
    screenshot(page, "layout-returned-statement")
    sign_out(page)

    sign_in(page, server, "reviewer")
    page.goto(server.url + f"/board?month={SEPT}")
    screenshot(page, "layout-board")
    no_sideways_scroll(page)
    assert wrapped(page, "#board tr[data-clinic] td:nth-child(2)") == []  # clinic names
    assert wrapped(page, "#board tr[data-clinic] td:nth-child(3)") == []  # towns
    assert wrapped(page, "#board .badge, #board a.review, #board thead th") == []
    assert wrapped(page, "#board tr[data-clinic] td") == []  # every cell of a clinic's row
    assert wrapped(page, "#board a.flag") == []
    # A returned month: 已退回 (not 未提交), its reason on one line under it, linked.
    assert page.inner_text("#board tr[data-clinic=HD003] [data-status]") == "已退回"
    assert page.get_attribute("#board tr[data-clinic=HD003] .badge", "title") == (
        f"退回原因：{BOARD_REASON}"
    )
    assert wrapped(page, "#board a.returned-reason") == []
    assert "未提交 0 · 已退回 1 · 已提交 1 · 已审核 1" in page.inner_text(".toolbar")
    page.click("#board tr[data-returned-for=HD003] a.returned-reason")
    page.wait_for_url(f"**/statements/HD003/{SEPT}#returned-reason")
    expect(page.locator("#returned-reason")).to_contain_text(BOARD_REASON)
    page.go_back()
    assert page.locator("#board a.flag").count() == 2
    page.click("#board a.flag >> nth=0")  # the visits behind the flag: one line each
    page.wait_for_url("**/oversight/clinics/HD001/**figure=cost_per_visit")
    assert "高出" in page.inner_text("#flags") and "医疗总费用高于全区中位数" in page.inner_text(
        "#behind"
    )
    screenshot(page, "layout-flagged-visits")
    no_sideways_scroll(page)
    assert wrapped(page, "#visits tr[data-visit] td, #visits thead th") == []

    page.goto(server.url + f"/statements/HD001/{SEPT}")
    screenshot(page, "layout-worklist")
    no_sideways_scroll(page)
    assert wrapped(page, "#worklist tr[data-visit] td:nth-child(1)") == []  # receipt numbers
    assert wrapped(page, "#worklist tr[data-visit] td:nth-child(6)") == []  # why
    assert wrapped(page, "#worklist button") == []
    one_row(page, "#worklist form:has(.disallow)")
    # Issue 24 §3: every 核减 button is inside the window, not cut off at its edge.
    rights = page.eval_on_selector_all(
        "#worklist button.disallow", "bs => bs.map(b => b.getBoundingClientRect().right)"
    )
    assert rights and max(rights) <= 1024, rights
    # Receipt numbers open the visit.
    assert page.locator("#worklist tr[data-visit] td:nth-child(1) a").count() == len(rights)

    page.goto(server.url + "/visits/register")
    no_sideways_scroll(page)
    # The receipt number on one line, the doctor's name on its own line under it.
    assert wrapped(page, "#register tr[data-receipt] td:nth-child(2) .receipt") == []
    assert wrapped(page, "#register tr[data-receipt] td:nth-child(2) .doctor") == []
    sign_out(page)

    sign_in(page, server, "finance")
    page.goto(server.url + f"/finance?month={SEPT}")
    screenshot(page, "layout-finance")
    no_sideways_scroll(page)
    assert wrapped(page, "#summary tr[data-clinic] td:nth-child(2)") == []  # clinic names
    assert wrapped(page, ".st-figures dt, .st-figures dd") == []  # 待拨付（已审核） …
    assert "待拨付（已审核）" in page.inner_text(".st-figures")
    assert wrapped(page, "#summary .badge, #summary thead th, #summary button") == []
    assert wrapped(page, "#summary tr[data-clinic] td:not(.inline-form)") == []
    assert page.inner_text("#summary tr[data-clinic=HD003] [data-status]") == "已退回"
    assert wrapped(page, "#summary a.returned-reason") == []
    reason = page.locator("#summary tr[data-clinic=HD003] a.returned-reason")
    assert reason.get_attribute("title") == f"退回原因：{BOARD_REASON}"
    one_row(page, "#summary td.inline-form form")
    table = page.evaluate(
        "() => [document.querySelector('#summary').getBoundingClientRect().right,"
        " document.querySelector('main').getBoundingClientRect().right]"
    )
    assert table[0] <= table[1], table
    assert traffic.outside == []
