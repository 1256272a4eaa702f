"""The visit register (issue 10): filters, scope, reprint and void links (SQLite, PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.auth.models import User
from app.extensions import db
from app.settlement.operations import submit_statement
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    csrf_from,
    login,
    request_scoped_g,
    save_form,
    seed,
)


@pytest.fixture
def world(app: Flask, clock: FixedClock, request_scoped_g: None) -> World:  # noqa: F811
    return seed(clock())


def record(client: FlaskClient, world: World, csrf: str, token: str, **kw: Any) -> int:
    visited_at = kw.pop("visited_at", "")
    data = save_form(world, csrf, token, **kw)
    data["visited_at"] = visited_at
    r = client.post("/visits/new", data=data)
    assert r.status_code == 303, r.text
    return int(re.findall(r"/visits/(\d+)/receipt", r.location)[0])


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-receipt="([^"]+)"', html)


def row_html(html: str, receipt: str) -> str:
    m = re.search(rf'data-receipt="{re.escape(receipt)}">(.*?)</tr>', html, flags=re.S)
    assert m, receipt
    return m.group(1)


def search(client: FlaskClient, csrf: str, **fields: str) -> Any:
    data = {"csrf_token": csrf, "date_from": "2026-09-01", "date_to": "2026-10-31", **fields}
    return client.post("/visits/register", data=data)


def month_of_visits(client: FlaskClient, world: World, clock: FixedClock) -> dict[str, int]:
    csrf = login(client)
    ids = {
        "today": record(client, world, csrf, "r-1"),
        "community": record(client, world, csrf, "r-2", who="insured_community", injection=False),
        "earlier": record(client, world, csrf, "r-3", visited_at="2026-10-03T09:00"),
        "september": record(client, world, csrf, "r-4", visited_at="2026-09-20T09:00"),
    }
    doctor = db.session.query(User).filter_by(username="doctor").one()
    submit_statement("HD001", "2026-09", doctor, clock())
    void = client.post(
        f"/visits/{ids['community']}/void", data={"csrf_token": csrf, "reason": "录错患者"}
    )
    assert void.status_code == 303
    return ids


def test_register_filters_and_void_links(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    month_of_visits(client, world, clock)
    first = client.get("/visits/register")
    assert first.status_code == 200
    assert "就诊登记簿" in first.text
    # This month by default: the September visit is not shown.
    assert sorted(rows(first.text)) == [
        "HD001-2026-000001",
        "HD001-2026-000002",
        "HD001-2026-000003",
    ]
    csrf = csrf_from(first.text)
    both = search(client, csrf)
    assert len(rows(both.text)) == 4
    # Reprint everywhere; void only in an open month and not when voided.
    assert "作废</a>" not in row_html(both.text, "HD001-2026-000004")  # September: submitted
    assert "/receipt" in row_html(both.text, "HD001-2026-000004")
    assert "作废</a>" not in row_html(both.text, "HD001-2026-000002")  # voided
    assert "录错患者" in row_html(both.text, "HD001-2026-000002")
    assert "作废</a>" in row_html(both.text, "HD001-2026-000003")  # an earlier day, open month

    by_id = search(client, csrf, patient=world.ids["insured_village"])
    assert sorted(rows(by_id.text)) == [
        "HD001-2026-000001",
        "HD001-2026-000003",
        "HD001-2026-000004",
    ]
    assert "张*" in by_id.text
    # The ID number never appears in a link.
    assert not re.search(rf'href="[^"]*{world.ids["insured_village"]}', by_id.text)
    assert rows(search(client, csrf, patient="ls").text) == ["HD001-2026-000002"]
    assert rows(search(client, csrf, patient="李四").text) == ["HD001-2026-000002"]
    assert rows(search(client, csrf, status="voided").text) == ["HD001-2026-000002"]
    assert len(rows(search(client, csrf, status="normal").text)) == 3
    assert rows(search(client, csrf, receipt="000003").text) == ["HD001-2026-000003"]
    # A receipt number finds its visit whatever the dates (September, out of this month's).
    september = search(client, csrf, receipt="000004", date_from="2026-10-01")
    assert rows(september.text) == ["HD001-2026-000004"]
    narrow = search(client, csrf, date_from="2026-10-03", date_to="2026-10-03")
    assert rows(narrow.text) == ["HD001-2026-000003"]
    bad = search(client, csrf, patient="4401141")
    assert bad.status_code == 422 and "18 位" in bad.text
    bad_date = search(client, csrf, date_from="10/01/2026")
    assert bad_date.status_code == 422 and "2026-11-29" in bad_date.text


def test_register_pages_through_posted_buttons(
    client: FlaskClient, world: World, clock: FixedClock, app: Any
) -> None:
    month_of_visits(client, world, clock)
    app.config["PAGE_SIZE"] = 2
    csrf = csrf_from(client.get("/visits/register").text)
    page1 = search(client, csrf)
    assert len(rows(page1.text)) == 2 and 'name="page" value="2"' in page1.text
    page2 = search(client, csrf, page="2")
    assert len(rows(page2.text)) == 2
    assert set(rows(page1.text)).isdisjoint(rows(page2.text))


def test_receipt_has_a_void_link_only_in_an_open_month(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    ids = month_of_visits(client, world, clock)
    assert 'id="void-link"' in client.get(f"/visits/{ids['earlier']}/receipt").text
    assert 'id="void-link"' not in client.get(f"/visits/{ids['september']}/receipt").text
    assert 'id="void-link"' not in client.get(f"/visits/{ids['community']}/receipt").text


def test_reviewers_read_the_register_in_their_scope(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    ids = month_of_visits(client, world, clock)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/visits/today").text)})
    login(client, "reviewer")
    page = client.get("/visits/register")
    assert page.status_code == 200
    assert "只读" in page.text
    assert 'name="clinic"' in page.text and "瑞岭村卫生站" in page.text
    assert len(rows(page.text)) == 3
    assert "作废</a>" not in page.text
    csrf = csrf_from(page.text)
    assert rows(search(client, csrf, clinic="HD002").text) == []
    assert 'id="void-link"' not in client.get(f"/visits/{ids['earlier']}/receipt").text
    # A clinic outside the scope cannot be chosen: the first in scope is shown.
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "town_reviewer")
    town = client.get("/visits/register")
    assert "瑞岭村卫生站" in town.text and "大涡村卫生站" not in town.text
    csrf = csrf_from(town.text)
    assert rows(search(client, csrf, clinic="HD001").text) == []
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "hp_reviewer")
    assert client.get("/visits/register").status_code == 403


def test_voiding_from_the_register_leads_back_to_the_search(
    app: Flask, client: FlaskClient, world: World, clock: FixedClock
) -> None:
    """Issue 24 §5: after a void opened from the register the doctor is back on his
    search (by ID number too), and the ID number is kept in no cookie or URL."""
    ids = month_of_visits(client, world, clock)
    csrf = csrf_from(client.get("/visits/register").text)
    found = search(client, csrf, patient=world.ids["insured_village"])
    link = re.search(rf'href="(/visits/{ids["earlier"]}/void[^"]*)"', found.text)
    assert link and "back=register" in link.group(1)
    cookie = client.get_cookie("session")
    assert cookie is not None
    stored = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    assert world.ids["insured_village"] not in str(stored)
    page = client.get(link.group(1).replace("&amp;", "&"))
    assert "/visits/register?again=1" in page.text  # 取消 goes back there too
    done = client.post(
        link.group(1).replace("&amp;", "&"), data={"csrf_token": csrf, "reason": "录错"}
    )
    assert done.status_code == 303 and done.location.endswith("/visits/register?again=1")
    back = client.get(done.location)
    assert sorted(rows(back.text)) == [
        "HD001-2026-000001",
        "HD001-2026-000003",
        "HD001-2026-000004",
    ]
    assert "录错" in row_html(back.text, "HD001-2026-000003")
    # From today's list a void still returns to today's list.
    plain = client.post(f"/visits/{ids['today']}/void", data={"csrf_token": csrf, "reason": "重复"})
    assert plain.location.endswith("/visits/today")
