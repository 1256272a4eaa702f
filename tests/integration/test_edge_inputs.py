"""Edge inputs (calendar ends, a NUL, an XLSX entity bomb) are a 4xx, never a 500 (issue 23, 4).

Months 9999-12 and 0000-01 (the calendar's ends: the next or previous month
does not exist), the day 0001-01-01 (its previous day does not exist), a NUL
in a search (PostgreSQL refuses it in text) and an XLSX whose XML declares an
entity that expands a billion times (refused by defusedxml, which openpyxl uses
when it is installed).
"""

from __future__ import annotations

import io
import zipfile

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World
from tests.integration.test_settlement_pages import CSRF, login

BAD_MONTHS = ["9999-12", "0000-01"]


def _pages(month: str) -> dict[str, list[str]]:
    return {
        "doctor": [f"/statements/HD001/{month}", f"/statements/HD001/{month}.pdf",
                   f"/statements/HD001/{month}.csv", f"/statements/HD001/{month}.xlsx",
                   f"/statements/HD001/{month}/visits.csv", f"/statements/HD001/{month}/submit"],
        "finance": [f"/finance/{month}.pdf", f"/finance/{month}.csv",
                    f"/finance/{month}.xlsx", f"/finance/{month}/visits.csv",
                    f"/finance/{month}/pay-all", f"/statements/HD001/{month}"],
    }  # fmt: skip


@pytest.mark.parametrize("user", ["doctor", "finance"])
@pytest.mark.parametrize("month", BAD_MONTHS)
def test_months_at_the_calendars_ends_are_refused_on_pages_and_downloads(
    app: Flask, world: World, client: FlaskClient, month: str, user: str
) -> None:
    login(client, user)
    for url in _pages(month)[user]:
        status = client.get(url).status_code
        assert 400 <= status < 500, (url, status)
    if user == "finance":  # the month box: refused beside it, the page still shown
        assert client.get(f"/finance?month={month}").status_code in (200, 422)


@pytest.mark.parametrize("month", BAD_MONTHS)
def test_months_at_the_calendars_ends_are_refused_by_the_api(
    app: Flask, world: World, client: FlaskClient, month: str
) -> None:
    api = [f"/api/v1/statements/HD001/{month}", f"/api/v1/statements/HD001/{month}.pdf",
           f"/api/v1/statements/HD001/{month}.csv", f"/api/v1/statements/HD001/{month}.xlsx",
           f"/api/v1/statements/HD001/{month}/visits.csv",
           f"/api/v1/districts/440114/summaries/{month}",
           f"/api/v1/districts/440114/summaries/{month}.pdf",
           f"/api/v1/districts/440114/summaries/{month}.csv",
           f"/api/v1/districts/440114/summaries/{month}.xlsx",
           f"/api/v1/districts/440114/summaries/{month}/visits.csv"]  # fmt: skip
    for url in api:
        r = client.get(url, headers=world.auth("finance"))
        assert 400 <= r.status_code < 500, (url, r.status_code)
        assert r.json and r.json["status"] == r.status_code


def test_the_daily_sheet_of_the_first_day_of_the_calendar_is_refused(
    app: Flask, world: World, client: FlaskClient
) -> None:
    login(client, "doctor")
    for day in ("0001-01-01", "9999-12-31"):
        assert client.get(f"/visits/daily?day={day}").status_code == 422
        assert client.get(f"/visits/daily.pdf?day={day}").status_code in (200, 422)


def test_a_nul_in_the_item_search_is_no_error(
    app: Flask, world: World, client: FlaskClient
) -> None:
    login(client, "doctor")
    r = client.get("/visits/items?q=am%00xl")
    assert r.status_code == 200 and r.json["ok"] is True


def _entity_bomb_xlsx() -> bytes:
    """A real workbook whose sheet XML declares a billion-laughs entity and uses it."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["fixmedins_code", "setl_id"])
    plain = io.BytesIO()
    book.save(plain)
    laughs = ['<!ENTITY a0 "ha">'] + [
        f'<!ENTITY a{n} "{("&a" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    ]
    doctype = "<!DOCTYPE worksheet [" + "".join(laughs) + "]>"
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = data.decode().replace(">fixmedins_code<", ">&a9;<", 1)
                assert "&a9;" in body
                data = ('<?xml version="1.0" encoding="UTF-8"?>' + doctype + body).encode()
            target.writestr(item, data)
    return out.getvalue()


def test_an_xlsx_with_an_entity_expansion_is_refused_with_a_4xx(
    app: Flask, world: World, client: FlaskClient
) -> None:
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML  # openpyxl parses every XLSX with defusedxml
    login(client, "finance")
    page = client.get("/reconcile?month=2026-10").get_data(as_text=True)
    csrf = CSRF.search(page)
    assert csrf
    r = client.post(
        "/reconcile/upload",
        data={"csrf_token": csrf.group(1), "month": "2026-10",
              "file": (io.BytesIO(_entity_bomb_xlsx()), "bomb.xlsx")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert r.status_code == 422
    assert "文件未导入" in r.get_data(as_text=True) and "bomb.xlsx:1: file" in r.get_data(
        as_text=True
    )


def test_a_nul_anywhere_in_a_form_is_a_4xx(app: Flask, world: World, client: FlaskClient) -> None:
    csrf = CSRF.search(client.get("/login").get_data(as_text=True))
    assert csrf
    r = client.post(
        "/login", data={"csrf_token": csrf.group(1), "username": "doc\x00tor", "password": "x"}
    )
    assert 400 <= r.status_code < 500
