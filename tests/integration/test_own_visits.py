"""A resident sees his own visits (issue 26 §2): a receipt's code and the last six
characters of the patient's ID number show his visits of the last twelve months at any
clinic, each can be disowned ("我没有在这天看病"), and every look-up is logged."""

from __future__ import annotations

import re

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry, ResidentAccess
from app.auth.models import User
from app.checks.rules import OversightPolicy
from app.extensions import db
from app.money import format_yuan
from app.oversight.checks import screen
from app.oversight.models import ReviewItem, VisitDisowned
from app.oversight.operations import receipt_code_for
from app.oversight.queries import clinic_months
from app.periods.models import Statement
from app.visits.operations import LineRequest, VisitRequest, record_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world

LINES = (LineRequest("DX001", "1"), LineRequest("AMX01", "12"))


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    @app.before_request
    def _fresh_g() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)

    return build_world(clock())


def user(name: str) -> User:
    return db.session.scalars(select(User).where(User.username == name)).one()


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m
    return m.group(1)


def accesses() -> list[str]:
    rows = list(db.session.scalars(select(ResidentAccess.purpose).order_by(ResidentAccess.id)))
    db.session.rollback()
    return rows


def test_a_resident_sees_his_visits_everywhere_and_disowns_one(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    number = world.ids["insured_village"]
    here, _ = record_visit(
        VisitRequest("HD001", number, False, LINES), user("doctor"), clock(), screen=screen
    )
    clock.advance(hours=1)
    there, _ = record_visit(
        VisitRequest("HD002", number, True, LINES), user("doctor2"), clock(), screen=screen
    )
    stranger, _ = record_visit(
        VisitRequest("HD001", world.ids["uninsured_village"], False, LINES),
        user("doctor"),
        clock(),
        screen=screen,
    )
    import datetime as dt

    old_at = dt.datetime(2025, 10, 10, 2, 0, tzinfo=dt.UTC)  # more than twelve months ago
    old, _ = record_visit(
        VisitRequest("HD001", number, False, LINES, old_at), user("doctor"), clock(), screen=screen
    )
    code = receipt_code_for(here.id, clock())

    page = client.get(f"/v/{code}")
    assert page.status_code == 200 and "身份证号码后六位" in page.text
    # Nothing without the six characters: the list sends back to the receipt.
    assert client.get(f"/v/{code}/mine").status_code == 302

    wrong = client.post(
        f"/v/{code}/mine", data={"csrf_token": csrf_from(page.text), "id_tail": "000000"}
    )
    assert wrong.status_code == 422 and "身份证号码后六位不对" in wrong.text
    assert accesses() == ["own_visits_denied"]

    right = client.post(
        f"/v/{code}/mine",
        data={"csrf_token": csrf_from(page.text), "id_tail": number[-6:].lower()},
    )
    assert right.status_code == 302
    mine = client.get(right.location)
    text = mine.text
    assert mine.status_code == 200 and "您近十二个月的就诊记录" in text
    assert "大涡村卫生站" in text and "瑞岭村卫生站" in text  # both clinics
    assert f'id="visit-{here.id}"' in text and f'id="visit-{there.id}"' in text
    assert f'id="visit-{stranger.id}"' not in text  # only his own
    assert f'id="visit-{old.id}"' not in text  # and only of the last twelve months
    assert "张三" not in text and number not in text
    assert "阿莫西林胶囊 12粒" in text and "我没有在这天看病" in text
    assert accesses() == ["own_visits_denied", "own_visits"]

    said = client.post(f"/v/{code}/mine/{there.id}/not-me", data={"csrf_token": csrf_from(text)})
    assert said.status_code == 302
    assert "卫健局将会核查这次就诊" in client.get(said.location).text
    again = client.post(f"/v/{code}/mine/{there.id}/not-me", data={"csrf_token": csrf_from(text)})
    assert again.status_code == 302
    # Another patient's visit cannot be disowned through this receipt.
    foreign = client.post(
        f"/v/{code}/mine/{stranger.id}/not-me", data={"csrf_token": csrf_from(text)}
    )
    assert foreign.status_code == 404

    (answer,) = db.session.scalars(select(VisitDisowned)).all()
    assert answer.visit_id == there.id and answer.via_visit_id == here.id
    item, month, clinic_id = db.session.execute(
        select(ReviewItem, Statement.month, Statement.clinic_id).join(
            Statement, Statement.id == ReviewItem.statement_id
        )
    ).one()
    assert (item.visit_id, item.why, month, clinic_id) == (
        there.id,
        "disowned",
        "2026-10",
        world.other_clinic.id,
    )
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "receipt.disowned")
    ).one()
    assert entry.actor == "public" and entry.chain == "clinic:HD002"
    months = clinic_months("440114", "2026-10", OversightPolicy())
    assert months[world.other_clinic.id].disowned == 1
    assert months[world.clinic.id].disowned == 0


def test_the_six_characters_are_throttled_per_receipt(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    app.config["OWN_VISITS_RECEIPT_LIMIT"] = "3/hour"
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], False, LINES),
        user("doctor"),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(visit.id, clock())
    token = csrf_from(client.get(f"/v/{code}").text)
    answers = [
        client.post(
            f"/v/{code}/mine", data={"csrf_token": token, "id_tail": f"00000{i}"}
        ).status_code
        for i in range(4)
    ]
    assert answers == [422, 422, 422, 429]
    # From another address too: the receipt itself is locked for the hour.
    other = app.test_client()
    elsewhere = {"REMOTE_ADDR": "10.0.0.9"}
    token = csrf_from(other.get(f"/v/{code}", environ_base=elsewhere).text)
    resp = other.post(
        f"/v/{code.lower()}/mine",
        data={"csrf_token": token, "id_tail": "000000"},
        environ_base=elsewhere,
    )
    assert resp.status_code == 429


def test_population_figures_count_people_and_the_village_seen(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    doctor = user("doctor")
    for who in ("insured_village", "insured_village", "uninsured_village", "other_district"):
        record_visit(
            VisitRequest("HD001", world.ids[who], False, LINES), doctor, clock(), screen=screen
        )
        clock.advance(minutes=10)
    months = clinic_months("440114", "2026-10", OversightPolicy())
    mine = months[world.clinic.id]
    # 4 visits by 3 people; 2 of them live in the clinic's village (大涡村).
    assert (mine.visits, mine.patients, mine.residents_seen) == (4, 3, 2)
    token = csrf_from(client.get("/login").text)
    login = {"username": "reviewer", "password": "secret-pass", "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    page = client.get("/oversight/clinics/HD001/2026-10/visits?figure=visits_per_patient")
    assert page.status_code == 200 and "人均就诊次数" in page.text


# --- the same through the public API ------------------------------------------------------


def test_the_api_shows_his_visits_and_takes_a_not_me_like_the_page(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    # Room for this test's malformed tries; the shared throttle has a test of its own.
    app.config["OWN_VISITS_RECEIPT_LIMIT"] = app.config["OWN_VISITS_LIMIT"] = "20/hour"
    number = world.ids["insured_village"]
    here, _ = record_visit(
        VisitRequest("HD001", number, False, LINES), user("doctor"), clock(), screen=screen
    )
    clock.advance(hours=1)
    there, _ = record_visit(
        VisitRequest("HD002", number, True, LINES), user("doctor2"), clock(), screen=screen
    )
    stranger, _ = record_visit(
        VisitRequest("HD001", world.ids["uninsured_village"], False, LINES),
        user("doctor"),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(here.id, clock())
    url = f"/api/v1/receipts/{code}/own-visits"

    wrong = client.post(url, json={"id_tail": "000000"})
    assert wrong.status_code == 422 and "id_tail" in wrong.json["errors"]
    assert client.post(url, json={"id_tail": "12"}).status_code == 422  # six characters
    assert client.post(url, json={}).status_code == 422
    assert (
        client.post(
            "/api/v1/receipts/ZZZZZZZZZZZZ/own-visits", json={"id_tail": number[-6:]}
        ).status_code
        == 404
    )
    assert accesses() == ["own_visits_denied"]  # a malformed body reads nothing

    right = client.post(url, json={"id_tail": number[-6:].lower()})
    assert right.status_code == 200, right.json
    body = right.json
    assert [v["visit_id"] for v in body["visits"]] == [here.id, there.id]  # not the stranger's
    first = body["visits"][0]
    assert first["clinic_name"] == "大涡村卫生站" and first["disowned"] is False
    assert {"name": "阿莫西林胶囊", "quantity": "12", "unit": "粒"} in first["items"]
    assert first["patient"] == format_yuan(here.patient) and first["fund"] == format_yuan(here.fund)
    assert number not in right.text and "张三" not in right.text
    assert accesses() == ["own_visits_denied", "own_visits"]

    not_me = f"{url}/{there.id}/not-me"
    assert client.post(not_me, json={"id_tail": "000000"}).status_code == 422
    said = client.post(not_me, json={"id_tail": number[-6:]})
    assert said.status_code == 200 and said.json == {"visit_id": there.id, "recorded": True}
    again = client.post(not_me, json={"id_tail": number[-6:]})
    assert again.json == {"visit_id": there.id, "recorded": False}
    assert (
        client.post(f"{url}/{stranger.id}/not-me", json={"id_tail": number[-6:]}).status_code == 404
    )
    (answer,) = db.session.scalars(select(VisitDisowned)).all()
    assert answer.visit_id == there.id and answer.via_visit_id == here.id
    assert client.post(url, json={"id_tail": number[-6:]}).json["visits"][1]["disowned"] is True

    spec = client.get("/api/v1/openapi.json").json
    post = spec["paths"]["/api/v1/receipts/{code}/own-visits"]["post"]
    assert post["security"] == [] and "429" in post["responses"]
    assert "OwnVisits" in spec["components"]["schemas"]
    assert "/api/v1/receipts/{code}/own-visits/{visit_id}/not-me" in spec["paths"]


def test_the_api_and_the_page_share_the_receipts_throttle(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    app.config["OWN_VISITS_RECEIPT_LIMIT"] = "3/hour"
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], False, LINES),
        user("doctor"),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(visit.id, clock())
    token = csrf_from(client.get(f"/v/{code}").text)
    page = client.post(f"/v/{code}/mine", data={"csrf_token": token, "id_tail": "000001"})
    assert page.status_code == 422
    url = f"/api/v1/receipts/{code}/own-visits"
    answers = [client.post(url, json={"id_tail": f"00000{i}"}).status_code for i in range(3)]
    assert answers == [422, 422, 429]
    # A wrong six characters on a "not me" counts too; the right ones are refused now.
    right = client.post(url, json={"id_tail": world.ids["insured_village"][-6:]})
    assert right.status_code == 429
    assert client.post(f"{url}/{visit.id}/not-me", json={"id_tail": "000009"}).status_code == 429
