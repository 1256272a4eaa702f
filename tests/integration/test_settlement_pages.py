"""Settlement pages through the browser session (server-rendered, Chinese by default)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from flask_babel import force_locale, refresh

from app.errors import Problem, ProblemCode
from app.settlement.queries import district_summary
from app.visits.models import Visit
from app.web.messages import problem_words
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_month_close import counted
from tests.integration.test_settlement import SEPT, advance, api, pay_body, record, september, world

__all__ = ["september", "world"]  # fixtures shared with test_settlement

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: FlaskClient, username: str) -> None:
    page = client.get("/login")
    token = CSRF.search(page.get_data(as_text=True))
    assert token
    response = client.post(
        "/login",
        data={"username": username, "password": "secret-pass", "csrf_token": token.group(1)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    # The ``app`` fixture keeps one app context pushed, so ``g`` outlives requests
    # and would keep the CSRF token of the session login just cleared.
    g.pop("csrf_token", None)


def csrf(client: FlaskClient, url: str) -> str:
    found = CSRF.search(client.get(url).get_data(as_text=True))
    assert found
    return found.group(1)


def test_doctor_sees_months_and_submits_after_confirming(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), at=None)  # October, the running month
    login(client, "doctor")
    page = client.get("/statements").get_data(as_text=True)
    assert "月结算" in page and "大涡村卫生站" in page
    assert "本月" in page and "2026-11-01" in page  # running month; when it can be submitted
    assert 'data-month="2026-09"' in page and "¥11.10" in page
    confirm = client.get(f"/statements/HD001/{SEPT}/submit").get_data(as_text=True)
    assert "¥11.10" in confirm and "提交" in confirm
    token = CSRF.search(confirm)
    assert token
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="(-?\d+)"', confirm))
    # A visit recorded meanwhile (another terminal): the confirmation is stale.
    record(world, clock(), at=dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC))
    stale = client.post(
        f"/statements/HD001/{SEPT}/submit",
        data={**hidden, "csrf_token": token.group(1)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "重新核对" in stale
    assert api(client, world, "doctor", "get").get_json()["status"] == "open"
    confirm = client.get(f"/statements/HD001/{SEPT}/submit").get_data(as_text=True)
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="(-?\d+)"', confirm))
    done = client.post(
        f"/statements/HD001/{SEPT}/submit",
        data={**hidden, "csrf_token": CSRF.search(confirm).group(1)},  # type: ignore[union-attr]
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "已提交" in done
    assert api(client, world, "doctor", "get").get_json()["status"] == "submitted"
    # The running month cannot be submitted yet, and the pages say so.
    running = client.get("/statements/HD001/2026-10").get_data(as_text=True)
    assert "2026-11-01" in running and 'id="submit"' not in running
    # Files come with the session too.
    pdf = client.get(f"/statements/HD001/{SEPT}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/statements/HD002/2026-09").status_code == 403
    assert client.get("/board").status_code == 403


def test_reviewer_board_sorts_reviews_and_returns(
    app: Flask, client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2", injection=False)
    advance(client, world, "submitted")
    advance(client, world, "submitted", clinic="HD002")
    login(client, "reviewer")
    board = client.get(f"/board?month={SEPT}").get_data(as_text=True)
    assert "已提交" in board and "瑞岭村卫生站" in board
    order = re.findall(r'data-clinic="(HD\d+)"', board)
    assert order == ["HD001", "HD002"]
    by_fiscal = client.get(f"/board?month={SEPT}&sort=fiscal&dir=asc").get_data(as_text=True)
    assert re.findall(r'data-clinic="(HD\d+)"', by_fiscal) == ["HD002", "HD001"]
    # Issue 10 item 8: no one-click approval on the board; 审核 opens the statement.
    assert "/review" not in board
    assert f'href="/statements/HD001/{SEPT}" autofocus>审核</a>' in board  # the first to review
    detail = client.get(f"/statements/HD001/{SEPT}").get_data(as_text=True)
    assert "逐日" in detail and "阿莫西林胶囊" in detail and "2026-09-21" in detail
    token = CSRF.search(detail).group(1)  # type: ignore[union-attr]
    no_reason = client.post(
        f"/statements/HD001/{SEPT}/return",
        data={"csrf_token": token, "reason": ""},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "原因" in no_reason
    client.post(
        f"/statements/HD002/{SEPT}/return",
        data={"csrf_token": token, "reason": "注射费有误"},
        follow_redirects=True,
    )
    assert api(client, world, "doctor2", "get", "HD002").get_json()["status"] == "open"
    # Issue 10 item 7: the reason is at the top of the returned statement.
    returned = client.get(f"/statements/HD002/{SEPT}").get_data(as_text=True)
    top = returned.index('id="returned-reason"')
    assert top < returned.index("<h2") and "退回原因：注射费有误" in returned
    client.post(
        f"/statements/HD001/{SEPT}/review",
        data={"csrf_token": token, "back": "board"},
    )
    assert api(client, world, "doctor", "get").get_json()["status"] == "reviewed"
    again = client.post(
        f"/statements/HD001/{SEPT}/review", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "已审核" in again and "不能" in again  # illegal now, said in Chinese


def test_finance_pays_one_and_all(
    app: Flask, client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    advance(client, world, "reviewed")
    advance(client, world, "reviewed", clinic="HD002")
    login(client, "finance")
    page = client.get("/finance").get_data(as_text=True)  # defaults to the month being settled
    assert "2026-09" in page and "<svg" in page and "<script" not in page
    assert "¥16.65" in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    wrong = client.post(
        f"/statements/HD001/{SEPT}/pay",
        data={
            "csrf_token": token,
            "paid_on": "2026-10-15",
            "reference": "R1",
            "amount": "11",
            "back": "finance",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "应付兜底" in wrong or "兜底" in wrong
    # Issue 10 item 9: the error names the clinic and the typed values come back.
    assert "HD001 大涡村卫生站：" in wrong
    assert 'name="reference" maxlength="60" value="R1"' in wrong
    assert 'name="amount" inputmode="decimal" value="11"' in wrong
    # Shown once: the next visit pre-fills the due amounts again (real values).
    again = client.get("/finance").get_data(as_text=True)
    assert 'value="R1"' not in again
    assert 'inputmode="decimal" value="11.10"' in again
    assert 'inputmode="decimal" value="5.55"' in again
    client.post(
        f"/statements/HD001/{SEPT}/pay",
        data={
            "csrf_token": token,
            "paid_on": "2026-10-15",
            "reference": "R1",
            "amount": "11.10",
            "back": "finance",
        },
    )
    assert api(client, world, "finance", "get").get_json()["status"] == "paid"
    confirm = client.get(f"/finance/{SEPT}/pay-all").get_data(as_text=True)
    assert "<td>HD002</td>" in confirm and "<td>HD001</td>" not in confirm
    assert "¥5.55" in confirm
    client.post(
        f"/finance/{SEPT}/pay-all",
        data={
            "csrf_token": token,
            "count": "1",
            "paid_on": "2026-10-15",
            "reference": "BATCH",
            "amount": "5.55",
        },
    )
    assert api(client, world, "finance", "get", "HD002").get_json()["status"] == "paid"
    page = client.get(f"/finance?month={SEPT}").get_data(as_text=True)
    assert 'id="outstanding">¥0.00' in page
    for ext in ("pdf", "csv", "xlsx"):
        assert client.get(f"/finance/{SEPT}.{ext}").status_code == 200
    assert client.get(f"/finance/{SEPT}.doc").status_code == 404


@pytest.mark.parametrize("username", ["reviewer", "finance"])
def test_english_on_request(client: FlaskClient, world: World, username: str) -> None:
    login(client, username)
    refresh()  # Flask-Babel caches the locale in the fixture's long-lived app context
    page = client.get(f"/board?month={SEPT}&lang=en").get_data(as_text=True)
    assert "Clinic statements" in page and "District backstop" in page


def test_pages_choose_their_words_by_code_not_by_english(app: Flask) -> None:
    with app.test_request_context(), force_locale("zh"):
        reworded = Problem("amount", "whatever the rule says today", ProblemCode.AMOUNT_MISMATCH)
        assert problem_words(reworded) == "拨付金额必须等于应付兜底金额。"
        required = problem_words(
            Problem("reference", "a payment reference is required", ProblemCode.REQUIRED)
        )
        assert "凭证" in required
    with app.test_request_context(), force_locale("en"):
        future = problem_words(Problem("paid_on", "is in the future", ProblemCode.PAID_IN_FUTURE))
        assert future == "The payment date is in the future."


def test_page_forms_load_through_flask_wtf(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    advance(client, world, "reviewed")
    login(client, "finance")
    url = f"/statements/HD001/{SEPT}/pay"
    token = csrf(client, f"/statements/HD001/{SEPT}")
    base = {"csrf_token": token, "paid_on": "2026-10-15", "reference": "R1"}

    def post(**fields: str) -> str:
        return client.post(url, data={**base, **fields}, follow_redirects=True).get_data(
            as_text=True
        )

    assert "金额格式不正确" in post(amount="11.1O")  # shape: worded by the code bad_amount
    # A date that is not one is named and shown how to write; an empty one is asked for;
    # what was typed comes back into the form (the text box has no browser picker).
    refused = post(amount="11.10", paid_on="15/10/2026")
    assert "请检查拨付日期：日期请写成 2026-11-29" in refused
    assert 'name="paid_on" value="15/10/2026"' in refused and 'value="11.10"' in refused
    assert "请填写：拨付日期" in post(amount="11.10", paid_on=" ")
    assert api(client, world, "finance", "get").get_json()["status"] == "reviewed"
    # Without the CSRF token nothing is read at all.
    assert client.post(url, data={**base, "csrf_token": "", "amount": "11.10"}).status_code == 400
    post(amount="¥11.10")  # as the page shows it
    assert api(client, world, "finance", "get").get_json()["status"] == "paid"
    # The month picker: a month that is not one is refused naming it, not guessed.
    assert client.get("/finance?month=2026-13").status_code == 422
    assert client.get("/finance?month=").status_code == 200  # empty: the month being settled


def test_a_tampered_submit_confirmation_is_refused(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    login(client, "doctor")
    confirm = client.get(f"/statements/HD001/{SEPT}/submit").get_data(as_text=True)
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="(-?\d+)"', confirm))
    token = CSRF.search(confirm).group(1)  # type: ignore[union-attr]
    url = f"/statements/HD001/{SEPT}/submit"
    assert (
        client.post(url, data={**hidden, "visits": "four", "csrf_token": token}).status_code == 400
    )
    del hidden["fiscal"]
    assert client.post(url, data={**hidden, "csrf_token": token}).status_code == 400
    assert api(client, world, "doctor", "get").get_json()["status"] == "open"


def test_the_months_list_shows_each_months_real_status(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    """Issue 10 item 7: 月结算 shows 已提交/已审核/已拨付, and 已退回 with the reason."""
    now = clock()
    for month, day in (("2026-07", 7), ("2026-08", 8)):
        record(world, now, at=dt.datetime(2026, int(month[-2:]), day, 2, 0, tzinfo=dt.UTC))
        assert api(client, world, "doctor", "submit", month=month).status_code == 200
        assert api(client, world, "reviewer", "review", month=month).status_code == 200
    due = api(client, world, "doctor", "get", month="2026-08").get_json()["figures"]["fiscal"]
    paid = api(client, world, "finance", "pay", month="2026-08", body=pay_body(due))
    assert paid.status_code == 200, paid.get_json()
    assert api(client, world, "doctor", "submit").status_code == 200
    back = api(client, world, "reviewer", "return", body={"reason": "9月3日两次注射费，请核对"})
    assert back.status_code == 200 and back.get_json()["status"] == "open"

    login(client, "doctor")
    page = client.get("/statements").get_data(as_text=True)

    def shown(month: str) -> str:
        m = re.search(rf'data-month="{month}">.*?data-status="(\w+)">([^<]+)<', page, re.S)
        assert m, month
        return f"{m.group(1)} {m.group(2)}"

    assert shown("2026-10") == "open 未提交"
    assert shown(SEPT) == "returned 已退回"
    assert shown("2026-08") == "paid 已拨付"
    assert shown("2026-07") == "reviewed 已审核"
    # The reason is on the list and links to the top of the statement, where it is repeated.
    assert f'/statements/HD001/{SEPT}#returned-reason">9月3日两次注射费，请核对</a>' in page
    statement = client.get(f"/statements/HD001/{SEPT}").get_data(as_text=True)
    assert statement.index('id="returned-reason"') < statement.index("<section")
    assert 'data-status="returned">已退回' in statement
    # Fixed and resubmitted from the list: 已提交, and the reason is gone.
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    hidden = re.search(rf'data-month="{SEPT}">(.*?)</tr>', page, re.S)
    assert hidden
    figures = dict(re.findall(r'type="hidden" name="(\w+)" value="(-?\d+)"', hidden.group(1)))
    client.post(f"/statements/HD001/{SEPT}/submit", data={**figures, "csrf_token": token})
    page = client.get("/statements").get_data(as_text=True)
    assert shown(SEPT) == "submitted 已提交" and "returned-reason" not in page


def test_the_clerks_pages_show_a_returned_month_with_its_reason(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    """Issue 10 item 7 on the board and 全区汇总: a returned month is 已退回 with its
    reason, not 未提交; the summary spends one query on it for the whole district."""
    record(world, clock(), clinic="HD002", doctor="doctor2")

    def summary_queries() -> list[str]:
        district_summary("440114", SEPT, None)  # the district and towns now in the session
        with counted() as statements:
            district_summary("440114", SEPT, None)
        return statements

    def events(statements: list[str]) -> int:
        return sum("statement_event" in sql for sql in statements)

    # Both months open (each has a statement row): one query asks for their last steps.
    first = summary_queries()
    assert events(first) == 1
    reason = "9月3日两次注射费，请核对"
    counts = []
    for clinic, doctor in (("HD001", "doctor"), ("HD002", "doctor2")):
        assert api(client, world, doctor, "submit", clinic).status_code == 200
        back = api(client, world, "reviewer", "return", clinic, body={"reason": reason})
        assert back.status_code == 200 and back.get_json()["status"] == "open"
        queries = summary_queries()
        assert events(queries) == 1  # one query for the district, not one per clinic
        counts.append(len(queries))
    assert counts == [len(first), len(first)]

    def status(page: str, clinic: str) -> str:
        m = re.search(rf'data-clinic="{clinic}".*?data-status="(\w+)"[^>]*>([^<]+)<', page, re.S)
        assert m, clinic
        return f"{m.group(1)} {m.group(2)}"

    def get(who: FlaskClient, url: str) -> str:
        for name in ("csrf_token", "_login_user", "_flask_babel"):  # a browser's own request
            g.pop(name, None)
        return who.get(url).get_data(as_text=True)

    said = f"退回原因：{reason}"
    link = f'/statements/{{}}/{SEPT}#returned-reason" title="{said}">{said}</a>'
    login(client, "reviewer")
    board = get(client, f"/board?month={SEPT}")
    assert status(board, "HD001") == "returned 已退回" == status(board, "HD002")
    assert f'title="{said}"' in board
    assert link.format("HD001") in board and link.format("HD002") in board
    assert "未提交 0 · 已退回 2 · 已提交 0" in board
    clerk = client.application.test_client()  # finance, beside the reviewer
    get(clerk, "/login")
    login(clerk, "finance")
    finance = get(clerk, f"/finance?month={SEPT}")
    assert status(finance, "HD001") == "returned 已退回"
    assert link.format("HD001") in finance

    # Resubmitted: 已提交, and the reason is gone from both pages.
    assert api(client, world, "doctor", "submit").status_code == 200
    finance = get(clerk, f"/finance?month={SEPT}")
    assert status(finance, "HD001") == "submitted 已提交"
    assert link.format("HD001") not in finance and link.format("HD002") in finance
    board = get(client, f"/board?month={SEPT}")
    assert status(board, "HD001") == "submitted 已提交"
    assert 'data-returned-for="HD001"' not in board and 'data-returned-for="HD002"' in board


def test_admin_opens_on_a_district_with_clinics_and_can_switch(
    client: FlaskClient, world: World
) -> None:
    """Issue 24 §5: the administrator starts on Huadu (which has the clinics), not on
    the neighbouring district, and picks another district on the board and 全区汇总."""
    login(client, "admin")
    board = client.get("/board")
    assert board.status_code == 200
    assert "花都区" in board.text and 'data-clinic="HD001"' in board.text
    assert '<select id="district" name="district">' in board.text
    assert '<option value="440112">黄埔区</option>' in board.text
    other = client.get("/board?district=440112")
    assert other.status_code == 200 and 'data-clinic="HD001"' not in other.text
    assert '<option value="440112" selected>' in other.text
    assert "district=440112" in other.text  # the sort links keep the district chosen
    finance = client.get("/finance")
    assert finance.status_code == 200 and 'data-clinic="HD001"' in finance.text
    assert '<select id="district" name="district">' in finance.text
