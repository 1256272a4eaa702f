"""Dates and months are typed into text boxes, read by the server (issue 10 item 10).

No page carries a browser date, month or time picker (they speak the PC's
language, not the user's) and no form lets the browser validate (its bubbles
are English on an English PC): the server reads ``2026-11-29``, ``2026/11/29``
and ``20261129`` (months ``2026-11``, ``2026/11``, ``202611``), and refuses
anything else in Chinese, naming the box and keeping what was typed.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_register_pages import rows, search
from tests.integration.test_settlement import SEPT, advance, record, september, world
from tests.integration.test_settlement_pages import CSRF
from tests.integration.test_settlement_pages import login as login_as
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    login,
    request_scoped_g,
    save_form,
    seed,
)

__all__ = ["september", "world"]

APP = Path(__file__).resolve().parents[2] / "app"
PICKERS = re.compile(r'type="(date|month|time|datetime-local|week)"')


def test_no_template_has_a_browser_picker_or_lets_the_browser_validate() -> None:
    templates = sorted(APP.glob("*/templates/**/*.html"))
    assert len(templates) > 20
    pickers = [str(p) for p in templates if PICKERS.search(p.read_text())]
    assert pickers == []
    without = [
        (str(p), form)
        for p in templates
        for form in re.findall(r"<form\b[^>]*>", p.read_text())
        if "novalidate" not in form
    ]
    assert without == []


@pytest.fixture
def doctor_world(app: Flask, clock: FixedClock, request_scoped_g: None) -> World:  # noqa: F811
    return seed(clock())


def test_register_reads_typed_dates_and_names_the_bad_box(
    client: FlaskClient, doctor_world: World
) -> None:
    csrf = login(client)
    data = save_form(doctor_world, csrf, "t-1")
    data["visited_at"] = "2026/10/03 9:00"  # typed, not picked
    assert client.post("/visits/new", data=data).status_code == 303
    db.session.expire_all()
    visit = db.session.scalars(select(Visit)).one()
    assert visit.visit_date == dt.date(2026, 10, 3)
    for typed in ("2026-10-03", "2026/10/03", "20261003"):
        found = search(client, csrf, date_from=typed, date_to=typed)
        assert found.status_code == 200 and len(rows(found.text)) == 1, typed
    bad = search(client, csrf, date_from="10/03/2026")
    assert bad.status_code == 422
    assert "起始日期：请按 2026-11-29 的格式填写日期" in bad.text
    assert 'value="10/03/2026"' in bad.text  # kept as typed
    assert "截止日期" in search(client, csrf, date_to="2026-13-01").text


def test_the_visit_time_is_typed_and_a_bad_one_is_named(
    client: FlaskClient, doctor_world: World
) -> None:
    csrf = login(client)
    page = client.get("/visits/new").text
    assert 'id="visited_at"' in page and 'placeholder="2026-11-29 09:30"' in page
    data = save_form(doctor_world, csrf, "t-2")
    data["visited_at"] = "10/03/2026 09:00"
    refused = client.post("/visits/new", data=data)
    assert refused.status_code == 400
    assert "就诊时间请写成 2026-11-29 09:30" in refused.text
    assert 'value="10/03/2026 09:00"' in refused.text
    # The live split asks the same question in the API's shape and gets the same words.
    quote = client.post(
        "/visits/quote",
        json={
            "clinic": "HD001",
            "patient_id_number": doctor_world.ids["insured_village"],
            "injection": False,
            "visited_at": "10/03/2026 09:00",
            "lines": [{"item": "DX001", "quantity": "1"}],
        },
        headers={"X-CSRFToken": csrf},
    )
    assert quote.status_code == 422
    assert "就诊时间请写成" in quote.get_json()["errors"]["visited_at"]


def test_daily_sheet_day_box(client: FlaskClient, doctor_world: World) -> None:
    login(client)
    for typed in ("2026-10-14", "2026/10/14", "20261014"):
        sheet = client.get(f"/visits/daily?day={typed}")
        assert sheet.status_code == 200 and 'value="2026-10-14"' in sheet.text, typed
        assert '日结单 <span class="muted small nowrap">2026-10-14' in sheet.text
    bad = client.get("/visits/daily?day=14.10.2026x")
    assert bad.status_code == 422
    assert "日期：请按 2026-11-29 的格式填写日期" in bad.text
    assert 'value="14.10.2026x"' in bad.text


def test_month_boxes_read_typed_months_and_name_a_bad_one(
    app: Flask, client: FlaskClient, world: World, september: list[Any], clock: FixedClock
) -> None:
    login_as(client, "finance")
    for where in ("/board", "/finance", "/reconcile"):
        for typed in ("2026-09", "2026/09", "202609"):
            page = client.get(f"{where}?month={typed}")
            assert page.status_code == 200, (where, typed)
            assert 'id="month" name="month" value="2026-09"' in page.text, (where, typed)
        bad = client.get(f"{where}?month=9/2026")
        assert bad.status_code == 422, where
        assert 'value="9/2026"' in bad.text and "月份" in bad.text and "2026-1" in bad.text
        assert 'aria-describedby="month-error"' in bad.text


def test_a_refused_batch_payment_keeps_what_was_typed(
    app: Flask, client: FlaskClient, world: World, september: list[Any], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    advance(client, world, "reviewed")
    login_as(client, "finance")
    page = client.get(f"/finance/{SEPT}/pay-all").text
    assert 'name="paid_on" value="2026-10-15"' in page and 'placeholder="2026-11-29"' in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    refused = client.post(
        f"/finance/{SEPT}/pay-all",
        data={
            "csrf_token": token,
            "count": "1",
            "paid_on": "2026.10.99",
            "reference": "BATCH-7",
            "amount": "11.10",
        },
        follow_redirects=True,
    )
    assert "请检查拨付日期：日期请写成 2026-11-29" in refused.text
    assert 'value="2026.10.99"' in refused.text and 'value="BATCH-7"' in refused.text
    # 2026/10/15 is read as 2026-10-15: the payment goes through.
    paid = client.post(
        f"/finance/{SEPT}/pay-all",
        data={
            "csrf_token": token,
            "count": "1",
            "paid_on": "2026/10/15",
            "reference": "BATCH-7",
            "amount": "11.10",
        },
        follow_redirects=True,
    )
    assert "2026-09 的拨付已全部登记" in paid.text
    assert "2026-10-15 BATCH-7" in paid.text
