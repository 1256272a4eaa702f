"""The clinic terminal's pages through the Flask test client, on SQLite and PostgreSQL.

CSRF stays on: every POST carries the token read from the page, as a browser's would.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.oversight.checks import screen
from app.people.rules import make_id_number
from app.visits.models import Visit
from app.visits.operations import LineRequest, VisitRequest, quote_visit
from app.visits.schemas import QuoteSchema
from tests.conftest import FixedClock
from tests.factories import World, build_world

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [ROOT / "app/visits/translations", ROOT / "app/web/translations"]

WORKED_LINES = [("DX001", "1"), ("AMX01", "12"), ("FFGC1", "1"), ("HY001", "1")]


def seed(now: Any) -> World:
    return build_world(now)


@pytest.fixture
def world(app: Flask, clock: FixedClock, request_scoped_g: None) -> World:
    return seed(clock())


@pytest.fixture
def request_scoped_g(app: Flask) -> None:
    """The ``app`` fixture keeps one app context open, so ``g`` would outlive a request.

    A browser's requests each get their own; so should the test client's, or
    Flask-WTF's cached CSRF token and Flask-Login's cached user leak from one
    request into the next (across a login or a logout).
    """

    @app.before_request
    def _fresh_g() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page carries no CSRF token"
    return m.group(1)


def login(client: FlaskClient, username: str = "doctor") -> str:
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": "secret-pass"}
    )
    assert r.status_code == 302, r.text
    return csrf_from(client.get("/visits/today").text)  # a 403 page carries one too


def lookup(client: FlaskClient, id_number: str) -> Any:
    """The terminal's patient lookup: the ID number in a POST body, never in the URL."""
    csrf = csrf_from(client.get("/visits/today").text)
    return client.post(
        "/visits/patient", json={"id_number": id_number}, headers={"X-CSRFToken": csrf}
    )


def form_token(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def visit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Visit)) or 0


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def field_error(html: str, field_id: str) -> str:
    m = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', html)
    return m.group(1).strip() if m else ""


def save_form(
    world: World,
    csrf: str,
    token: str,
    *,
    who: str = "insured_village",
    lines: list[tuple[str, str]] = WORKED_LINES,
    injection: bool = True,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf,
        "token": token,
        "id_number": world.ids[who],
        "item": [code for code, _ in lines],
        "quantity": [qty for _, qty in lines],
        "action": "save",
    }
    if injection:
        data["injection"] = "1"
    return data


# --- login ----------------------------------------------------------------------------


def test_wrong_password_and_unknown_user_get_one_message(client: FlaskClient, world: World) -> None:
    token = csrf_from(client.get("/login").text)
    wrong_pw = client.post(
        "/login", data={"csrf_token": token, "username": "doctor", "password": "nope-nope"}
    )
    no_user = client.post(
        "/login", data={"csrf_token": token, "username": "nobody", "password": "secret-pass"}
    )
    assert wrong_pw.status_code == no_user.status_code == 401
    assert "用户名或密码错误" in wrong_pw.text
    assert "用户名或密码错误" in no_user.text
    # The typed username is kept; the password is not echoed.
    assert 'value="doctor"' in wrong_pw.text
    assert "nope-nope" not in wrong_pw.text


def test_login_needs_the_csrf_token(client: FlaskClient, world: World) -> None:
    r = client.post("/login", data={"username": "doctor", "password": "secret-pass"})
    assert r.status_code == 400
    assert "表单已过期" in r.text


def test_login_logout_and_pages_need_login(client: FlaskClient, world: World) -> None:
    assert client.get("/visits/new").status_code == 302
    assert client.post("/visits/patient", json={"id_number": "x"}).status_code in (400, 401)
    csrf = login(client)
    assert client.get("/").location.endswith("/visits/new")
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 302
    assert client.get("/visits/today").status_code == 302


def test_only_doctors_use_the_terminal(client: FlaskClient, world: World) -> None:
    login(client, "reviewer")
    assert client.get("/visits/new").status_code == 403
    assert client.get("/visits/today").status_code == 403


# --- the new-visit page ----------------------------------------------------------------


def test_new_visit_page_starts_with_the_consultation_fee(client: FlaskClient, world: World) -> None:
    login(client)
    r = client.get("/visits/new")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert 'name="item" value="DX001"' in r.text
    assert "一般诊疗费" in r.text
    assert len(form_token(r.text)) >= 24
    assert form_token(client.get("/visits/new").text) != form_token(r.text)
    assert 'lang="zh-CN"' in r.text


def test_patient_panel_eligible_and_not(client: FlaskClient, world: World) -> None:
    login(client)
    ok = lookup(client, world.ids["insured_village"])
    assert ok.status_code == 200 and ok.json["programme"] is True
    html = ok.json["html"]
    assert "一元看病" in html and "张*" in html and "大涡村" in html and "城乡居民医保" in html
    assert "¥600.00" in html  # the fund left this year

    no = lookup(client, world.ids["insured_community"])
    assert no.json["programme"] is False
    assert "非一元看病" in no.json["html"]
    assert "户籍在城镇社区，不在行政村" in no.json["html"]

    unknown = lookup(client, world.ids["unknown"])
    assert unknown.json["programme"] is False
    assert "不在本区户籍人员名册中" in unknown.json["html"]


def test_lowercase_x_is_accepted(client: FlaskClient, world: World) -> None:
    login(client)
    candidates = (make_id_number("440114", dt.date(1980, 1, 1), s) for s in range(1000))
    number = next(n for n in candidates if n.endswith("X"))
    r = lookup(client, number.lower())
    assert r.status_code == 200
    assert r.json["patient"]["id_number"].endswith("X")


def test_bad_id_number_answers_in_chinese(client: FlaskClient, world: World) -> None:
    login(client)
    r = lookup(client, "12345")
    assert r.status_code == 422
    assert r.json["errors"]["id_number"] == "身份证号应为 18 位。"
    bad_check = world.ids["insured_village"][:17] + (
        "0" if world.ids["insured_village"][17] != "0" else "1"
    )
    r = lookup(client, bad_check)
    assert "校验位" in r.json["errors"]["id_number"]


def test_item_search_by_code_name_and_pinyin(client: FlaskClient, world: World) -> None:
    login(client)

    def codes(q: str) -> list[str]:
        return [i["code"] for i in client.get("/visits/items", query_string={"q": q}).json["items"]]

    assert codes("amxl")[0] == "AMX01"
    assert codes("AMX")[0] == "AMX01"
    assert codes("amx")[0] == "AMX01"
    assert codes("阿莫西林") == ["AMX01"]
    assert codes("%") == []
    item = client.get("/visits/items", query_string={"q": "amxl"}).json["items"][0]
    assert item["price"] == "0.35" and item["class_label"] == "甲类"


def _quote_body(world: World) -> dict[str, Any]:
    return {
        "clinic": "HD001",
        "patient_id_number": world.ids["insured_village"],
        "injection": True,
        "lines": [{"item": c, "quantity": q} for c, q in WORKED_LINES],
    }


def test_quote_endpoint_equals_quote_visit_and_the_api(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    csrf = login(client)
    r = client.post("/visits/quote", json=_quote_body(world), headers={"X-CSRFToken": csrf})
    assert r.status_code == 200, r.text
    page = r.json["quote"]
    # The SPEC worked example.
    assert page["totals"]["total"] == "24.70"
    assert page["totals"]["fund"] == "12.15"
    assert page["totals"]["fiscal"] == "5.55"
    assert page["totals"]["patient"]["total"] == "7.00"

    from app.auth.models import User

    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None
    direct = QuoteSchema().dump(
        quote_visit(
            VisitRequest(
                clinic="HD001",
                patient_id_number=world.ids["insured_village"],
                injection=True,
                lines=tuple(LineRequest(c, q) for c, q in WORKED_LINES),
            ),
            doctor,
            clock(),
            screen=screen,
        )
    )
    assert page == direct

    api = app_client_post_api(client, world)
    assert api["totals"] == page["totals"]
    assert [line["amount"] for line in api["lines"]] == [line["amount"] for line in page["lines"]]


def app_client_post_api(client: FlaskClient, world: World) -> dict[str, Any]:
    body = {
        "clinic": "HD001",
        "patient_id_number": world.ids["insured_village"],
        "injection": True,
        "lines": [{"item": c, "quantity": q} for c, q in WORKED_LINES],
    }
    r = client.post("/api/v1/visits/quote", json=body, headers=world.auth("doctor"))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json
    return result


def test_quote_endpoint_needs_the_csrf_header(client: FlaskClient, world: World) -> None:
    login(client)
    r = client.post("/visits/quote", json=_quote_body(world))
    assert r.status_code == 400
    assert r.json["ok"] is False


def test_quote_errors_name_the_line(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    body = _quote_body(world)
    body["lines"][1]["quantity"] = "0"
    r = client.post("/visits/quote", json=body, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422
    assert r.json["errors"] == {"lines-1-quantity": "数量必须大于 0。"}


def test_quote_json_is_loaded_by_the_api_schema(client: FlaskClient, world: World) -> None:
    # The string "false" is not a boolean here either (it once counted as true).
    csrf = login(client)
    body = {**_quote_body(world), "injection": "false"}
    r = client.post("/visits/quote", json=body, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422 and set(r.json["errors"]) == {"injection"}
    api = client.post("/api/v1/visits/quote", json=body, headers=world.auth("doctor"))
    assert api.status_code == 422 and set(api.json["errors"]) == {"injection"}
    for extra in ({"colour": "red"}, {"lines": "DX001"}):
        r = client.post(
            "/visits/quote", json={**_quote_body(world), **extra}, headers={"X-CSRFToken": csrf}
        )
        assert r.status_code == 422 and r.json["ok"] is False


# --- saving ------------------------------------------------------------------------------


def test_save_redirects_to_the_receipt_and_the_same_token_saves_once(
    client: FlaskClient, world: World
) -> None:
    csrf = login(client)
    token = form_token(client.get("/visits/new").text)
    first = client.post("/visits/new", data=save_form(world, csrf, token))
    assert first.status_code == 303
    assert re.search(r"/visits/\d+/receipt$", first.location)
    again = client.post("/visits/new", data=save_form(world, csrf, token))
    assert again.status_code == 303
    assert again.location == first.location
    assert visit_count() == 1
    receipt = client.get(again.location)
    assert "没有重复登记" in receipt.text


def test_same_token_with_a_changed_form_does_not_record_silently(
    client: FlaskClient, world: World
) -> None:
    csrf = login(client)
    token = form_token(client.get("/visits/new").text)
    assert client.post("/visits/new", data=save_form(world, csrf, token)).status_code == 303
    changed = save_form(world, csrf, token, injection=False)
    r = client.post("/visits/new", data=changed)
    assert r.status_code == 409
    assert "这张表单已经保存过" in r.text
    assert visit_count() == 1
    new_token = form_token(r.text)
    assert new_token != token
    # A deliberate second save, with the fresh token, records a second visit.
    r = client.post("/visits/new", data=save_form(world, csrf, new_token, injection=False))
    assert r.status_code == 303
    assert visit_count() == 2


def test_field_errors_rerender_next_to_the_field_keeping_the_input(
    client: FlaskClient, world: World
) -> None:
    csrf = login(client)
    token = form_token(client.get("/visits/new").text)
    data = save_form(world, csrf, token, lines=[("DX001", "1"), ("AMX01", "abc")])
    r = client.post("/visits/new", data=data)
    assert r.status_code == 422
    assert field_error(r.text, "lines-1-quantity") == "数量应为数字，例如 2 或 0.5。"
    assert 'value="abc"' in r.text
    assert f'value="{world.ids["insured_village"]}"' in r.text
    assert re.search(r'id="injection"[^>]*checked', r.text)
    assert form_token(r.text) == token  # the same token: fixing and saving still saves once
    assert visit_count() == 0

    bad_id = dict(data, id_number="44011419")
    bad_id["quantity"] = ["1", "12"]
    r = client.post("/visits/new", data=bad_id)
    assert r.status_code == 422
    assert field_error(r.text, "id_number") == "身份证号应为 18 位。"
    assert 'value="44011419"' in r.text

    no_lines = {k: v for k, v in data.items() if k not in ("item", "quantity")}
    r = client.post("/visits/new", data=no_lines)
    assert field_error(r.text, "lines") == "请至少添加一个收费项目。"

    future = dict(data, quantity=["1", "12"], visited_at="2026-10-16T09:00")
    r = client.post("/visits/new", data=future)
    assert field_error(r.text, "visited_at") == "就诊时间不能晚于现在。"
    assert visit_count() == 0


def test_without_javascript_lines_are_added_and_removed(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    base = {
        "csrf_token": csrf,
        "token": "t-nojs",
        "id_number": world.ids["insured_village"],
        "item": ["DX001"],
        "quantity": ["1"],
        "action": "lookup",
    }
    found = client.post("/visits/new", data=dict(base, q="amxl"))
    assert found.status_code == 200
    assert 'name="add" value="AMX01"' in found.text
    assert "一元看病" in found.text  # the patient panel, rendered without a script
    added = client.post("/visits/new", data=dict(base, add="AMX01"))
    assert 'name="item" value="AMX01"' in added.text
    assert 'id="t-total">¥11.35<' in added.text  # the split, rendered by the server
    removed = client.post(
        "/visits/new",
        data=dict(base, item=["DX001", "AMX01"], quantity=["1", "1"], remove="1"),
    )
    assert 'name="item" value="AMX01"' not in removed.text


def test_an_earlier_visit_time_is_recorded(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    data = save_form(world, csrf, "t-late")
    data["visited_at"] = "2026-10-14T16:30"
    r = client.post("/visits/new", data=data)
    assert r.status_code == 303
    assert "2026-10-14 16:30" in client.get(r.location).text


# --- receipt ----------------------------------------------------------------------------


def test_receipt_page_and_pdf(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    r = client.post("/visits/new", data=save_form(world, csrf, "t-receipt"))
    page = client.get(r.location)
    text = text_of(page.text)
    assert "HD001-2026-000001" in text
    assert "大涡村卫生站" in text
    assert "2026-10-15 10:00" in text
    assert "张*" in text and "4401**********" in text
    assert world.ids["insured_village"] not in page.text
    assert "¥12.15" in text and "¥5.55" in text and "¥7.00" in text and "¥24.70" in text
    assert "本次您只需支付 7.00 元" in text
    pdf = client.get(r.location + ".pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.data.startswith(b"%PDF")


def test_another_clinics_receipt_is_forbidden(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    r = client.post("/visits/new", data=save_form(world, csrf, "t-scope"))
    receipt_url = r.location
    visit_id = int(re.findall(r"\d+", receipt_url)[0])
    client.post("/logout", data={"csrf_token": csrf})
    csrf2 = login(client, "doctor2")
    assert client.get(receipt_url).status_code == 403
    assert client.get(receipt_url + ".pdf").status_code == 403
    assert client.get(f"/visits/{visit_id}/void").status_code == 403
    r = client.post(f"/visits/{visit_id}/void", data={"csrf_token": csrf2, "reason": "x"})
    assert r.status_code == 403
    assert "HD001-2026" not in client.get("/visits/today").text
    db.session.expire_all()
    assert db.session.get(Visit, visit_id).voided_at is None  # type: ignore[union-attr]


# --- today and void ----------------------------------------------------------------------


def _close(html: str) -> dict[str, str]:
    return {
        key: re.search(rf'id="c-{key}">([^<]*)<', html).group(1)  # type: ignore[union-attr]
        for key in ("visits", "programme", "injections", "cash", "fund", "fiscal", "total")
    }


def test_today_daily_close_and_void(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    first = client.post("/visits/new", data=save_form(world, csrf, "t-a"))
    client.post(
        "/visits/new",
        data=save_form(world, csrf, "t-b", who="insured_community", injection=False),
    )
    today = client.get("/visits/today").text
    assert _close(today) == {
        "visits": "2",
        "programme": "1",
        "injections": "1",
        "cash": "¥17.55",  # 7.00 + 10.55, SPEC's worked example and its community twin
        "fund": "¥24.30",
        "fiscal": "¥5.55",
        "total": "¥47.40",
    }
    visit_id = int(re.findall(r"\d+", first.location)[0])
    confirm = client.get(f"/visits/{visit_id}/void")
    assert confirm.status_code == 200 and "确认作废" in confirm.text
    empty = client.post(f"/visits/{visit_id}/void", data={"csrf_token": csrf, "reason": " "})
    assert empty.status_code == 422
    assert field_error(empty.text, "reason") == "请填写作废原因。"
    done = client.post(f"/visits/{visit_id}/void", data={"csrf_token": csrf, "reason": "录错患者"})
    assert done.status_code == 303
    today = client.get(done.location).text
    assert "已作废" in today and "录错患者" in today
    assert _close(today) == {
        "visits": "1",
        "programme": "0",
        "injections": "0",
        "cash": "¥10.55",
        "fund": "¥12.15",
        "fiscal": "¥0.00",
        "total": "¥22.70",
    }
    again = client.post(f"/visits/{visit_id}/void", data={"csrf_token": csrf, "reason": "再来"})
    assert again.status_code == 409
    # The receipt of a voided visit says so.
    assert "已作废" in client.get(first.location).text


# --- language ------------------------------------------------------------------------------


def test_english_is_one_click_away(client: FlaskClient, world: World) -> None:
    csrf = login(client)
    r = client.post("/lang/en", data={"csrf_token": csrf, "next": "/visits/today"})
    assert r.location.endswith("/visits/today")
    page = client.get("/visits/today").text
    assert "Daily close" in page and 'lang="en"' in page
    client.post("/lang/zh", data={"csrf_token": csrf})
    assert "日结" in client.get("/visits/today").text


def _catalog_messages() -> list[tuple[Path, Any]]:
    out = []
    for root in CATALOGS:
        with open(root / "zh/LC_MESSAGES/messages.po", "rb") as f:
            out += [(root, m) for m in read_po(f) if m.id]
    return out


def test_every_zh_message_is_translated() -> None:
    untranslated = [(str(root), m.id) for root, m in _catalog_messages() if not m.string or m.fuzzy]
    assert untranslated == []


def test_catalogs_hold_every_message_in_the_code() -> None:
    """The .po files are up to date with the templates and code (re-extract when this fails)."""
    from babel.messages.extract import extract_from_dir

    for root in CATALOGS:
        area = root.parent
        with open(root / "zh/LC_MESSAGES/messages.po", "rb") as f:
            known = {m.id for m in read_po(f) if m.id}
        method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
        found = {
            msg[2]
            for msg in extract_from_dir(
                str(area), method_map, keywords={"_": None, "_l": None, "gettext": None}
            )
        }
        assert found - known == set(), f"run pybabel extract/update for {area.name}"


def test_doctor_pages_in_chinese_show_no_untranslated_ui_words(
    client: FlaskClient, world: World
) -> None:
    csrf = login(client)
    saved = client.post("/visits/new", data=save_form(world, csrf, "t-zh"))
    visit_id = int(re.findall(r"\d+", saved.location)[0])
    preview = client.post(
        "/visits/new",
        data=dict(
            save_form(world, csrf, "t-zh2", who="insured_community"),
            action="lookup",
            q="amxl",
        ),
    )
    bad = client.post(
        "/visits/new",
        data=save_form(world, csrf, "t-zh3", lines=[("DX001", "1"), ("AMX01", "-1")]),
    )
    client.post("/logout", data={"csrf_token": csrf})
    login_page = client.post(
        "/login", data={"csrf_token": csrf_from(client.get("/login").text), "username": "x"}
    ).text
    login(client)
    pages = {
        "login": login_page,
        "new": client.get("/visits/new").text,
        "preview": preview.text,
        "errors": bad.text,
        "receipt": client.get(saved.location).text,
        "today": client.get("/visits/today").text,
        "void": client.get(f"/visits/{visit_id}/void").text,
        "patient": lookup(client, world.ids["other_district"]).json["html"],
        "forbidden": client.get("/visits/999999/receipt").text,
    }
    english = set()
    for _root, m in _catalog_messages():
        if m.id == m.string:
            continue
        for fragment in re.split(r"%\(\w+\)s", m.id):
            fragment = fragment.strip(" .:()")
            if re.search(r"[A-Za-z]{3}", fragment) and fragment not in ("PDF",):
                english.add(fragment)
    for name, html in pages.items():
        text = text_of(html)
        leaked = sorted(
            f for f in english if re.search(rf"(?<![A-Za-z]){re.escape(f)}(?![A-Za-z])", text)
        )
        assert leaked == [], f"{name} page shows untranslated words: {leaked}"
        assert not re.search(r"\b(Class [ABC]|Not in programme|One-yuan)\b", text)


def test_page_words_follow_the_problem_code_not_its_english(app: Any) -> None:
    from flask_babel import force_locale

    from app.errors import Problem, ProblemCode
    from app.visits.messages import field_errors

    with app.test_request_context("/"), force_locale("zh"):
        reworded = [
            Problem("lines[1].quantity", "any new English wording", ProblemCode.NOT_POSITIVE),
            Problem("patient_id_number", "also reworded", ProblemCode.ID_LENGTH),
        ]
        assert field_errors(reworded) == {
            "lines-1-quantity": "数量必须大于 0。",
            "id_number": "身份证号应为 18 位。",
        }
        # A schema's shape refusal says something, quoting the detail.
        shape = Problem("reason", "detail x", ProblemCode.BAD_SHAPE)
        assert "detail x" in field_errors([shape])["reason"]
