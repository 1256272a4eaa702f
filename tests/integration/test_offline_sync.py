"""The terminal through an outage, server side (issue 25): the bundle it keeps, and the
upload of a visit captured offline — recorded once, on the normal recording path, at
its capture time, and refused in words (with codes) when the slip would be contradicted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.catalog.models import CatalogItem, ItemPrice
from app.checks.rules import OversightPolicy, Rule, Severity, oversight_to_json
from app.database import unit_of_work
from app.extensions import db
from app.insurance.models import InsuranceSettlement
from app.oversight.queries import late_or_complained, oversight_policy_for
from app.policy.models import PolicyVersion
from app.visits.models import Visit, VisitCheck
from app.visits.offline import roster_key
from tests.conftest import FixedClock
from tests.factories import World, build_world
from tests.integration.test_insurance_platform import platform, sim  # noqa: F401 (fixtures)
from tests.simulator import Simulator

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
LINES = [{"item": "DX001", "quantity": "1"}, {"item": "HY001", "quantity": "1"}]


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    @app.before_request
    def _fresh_g() -> None:  # one g per request, as in a browser (see test_terminal_pages)
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)

    return build_world(clock())


def login(client: FlaskClient, username: str = "doctor") -> str:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": "secret-pass"},
    )
    assert r.status_code == 302
    answer = client.get("/visits/offline/token").get_json()
    assert answer["ok"] and answer["user"] == username
    csrf: str = answer["csrf_token"]
    return csrf


def offline_body(
    world: World,
    captured_at: dt.datetime,
    code: str = "L261015-TEST-01",
    *,
    who: str = "insured_village",
    expected_patient: str | None = "6.00",
    expected_programme: bool | None = True,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "clinic": "HD001",
        "patient_id_number": world.ids[who],
        "injection": False,
        "lines": LINES,
        "offline": {
            "captured_at": captured_at.isoformat(),
            "code": code,
            "expected_patient": expected_patient,
            "expected_programme": expected_programme,
        },
        **extra,
    }


def upload(client: FlaskClient, csrf: str, body: dict[str, Any], key: str) -> Any:
    return client.post(
        "/visits/offline/sync",
        json=body,
        headers={"X-CSRFToken": csrf, "Idempotency-Key": key},
    )


def visits() -> list[Visit]:
    db.session.expire_all()
    return list(db.session.scalars(select(Visit).order_by(Visit.receipt_seq)))


def test_the_bundle_holds_prices_fees_and_a_roster_without_personal_data(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    login(client)
    response = client.get("/visits/offline/bundle")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    bundle = answer["bundle"]
    assert answer["server_now"].startswith("2026-10-15T10:00")
    assert (bundle["clinic"], bundle["window_from"], bundle["window_to"]) == (
        "HD001",
        "2026-10-15",
        "2026-11-30",
    )
    items = {item["code"]: item for item in bundle["items"]}
    assert items["AMX01"]["prices"] == [
        {"price": "0.35", "valid_from": "2016-01-01", "valid_to": None}
    ]
    assert items["AMX01"]["pinyin"] == "amxljn"
    assert items["AMX01"]["class_label"] and items["HY001"]["kind"] == "service"
    assert bundle["policies"] == [
        {
            "effective_from": "2026-01-01",
            "registration_fee": "1.00",
            "injection_fee": "1.00",
            "class_b_selfpay_ratio": "0.1",
            "class_b_selfpay_backstopped": True,
        }
    ]
    salt = bytes.fromhex(bundle["salt"])
    roster = bundle["roster"]
    # 大涡村 and 瑞岭村 are villages of other towns or the community: only the insured
    # residents of the clinic's town's villages, each for the whole window (47 days).
    assert roster == {roster_key(salt, world.ids["insured_village"]): [0, 46]}
    text = response.get_data(as_text=True)
    for label, number in world.ids.items():
        assert number not in text, label
    assert "张" not in text and "1960" not in text

    # A new salt each time: keys from one roster say nothing about another's.
    again = client.get("/visits/offline/bundle").get_json()["bundle"]
    assert again["salt"] != bundle["salt"] and again["roster"] != roster


def test_a_visit_captured_offline_is_recorded_once_at_its_capture_time(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    csrf = login(client)
    captured = dt.datetime(2026, 10, 15, 8, 30, tzinfo=SHANGHAI)
    first = upload(client, csrf, offline_body(world, captured), "key-1")
    assert first.status_code == 201, first.text
    answer = first.get_json()
    assert answer["receipt_number"] == "HD001-2026-000001"
    assert answer["patient"] == "6.00" and answer["programme"] is True
    assert answer["receipt_url"] == f"/visits/{answer['visit_id']}/receipt"

    # Sent twice (the answer was lost on the flaky link): the first visit, once.
    again = upload(client, csrf, offline_body(world, captured), "key-1")
    assert again.status_code == 200
    assert again.get_json()["visit_id"] == answer["visit_id"]
    (visit,) = visits()
    assert visit.visited_at == captured.astimezone(dt.UTC)
    assert visit.captured_at == captured.astimezone(dt.UTC)
    assert visit.offline_code == "L261015-TEST-01"
    assert visit.recorded_at == clock()

    receipt = client.get(answer["receipt_url"]).text
    assert "L261015-TEST-01" in receipt and "2026-10-15 08:30" in receipt


def test_the_queue_time_never_makes_an_offline_visit_late(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    with unit_of_work() as s:  # late entries warn from 72 hours on
        version = s.scalars(select(PolicyVersion)).one()
        version.oversight = oversight_to_json(
            OversightPolicy(severities={Rule.LATE_ENTRY: Severity.WARN}, late_entry_hours=72)
        )
    csrf = login(client)
    four_days_ago = dt.datetime(2026, 10, 11, 9, 0, tzinfo=SHANGHAI)
    offline = upload(client, csrf, offline_body(world, four_days_ago, "L261011-TEST-01"), "k-1")
    assert offline.status_code == 201, offline.text
    # The same visit typed in from paper now: late, and said so.
    paper = offline_body(world, four_days_ago, visited_at=four_days_ago.isoformat())
    del paper["offline"]
    paper["warning_reason"] = "补录纸质记录"
    typed = client.post(
        "/api/v1/visits",
        data=json.dumps(paper),
        headers={
            **world.auth("doctor"),
            "Content-Type": "application/json",
            "Idempotency-Key": "k-2",
        },
    )
    assert typed.status_code == 201, typed.text
    _offline_visit, paper_visit = visits()
    fired = db.session.execute(select(VisitCheck.visit_id, VisitCheck.rule)).all()
    assert [tuple(row) for row in fired] == [(paper_visit.id, "late_entry")]
    policy = oversight_policy_for("440114", dt.date(2026, 10, 11)).policy
    pointed = late_or_complained(db.session, world.clinic.id, "2026-10", policy)
    assert pointed == {paper_visit.id: ("late_entry",)}


def test_refusals_say_why_with_codes_and_write_nothing(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    csrf = login(client)
    now = clock().astimezone(SHANGHAI)

    future = upload(client, csrf, offline_body(world, now + dt.timedelta(minutes=5)), "k-f")
    assert future.status_code == 422
    assert future.get_json()["codes"] == ["capture_future"]
    assert "时钟" in future.get_json()["errors"]["captured_at"]

    before = offline_body(world, now, visited_at=(now + dt.timedelta(minutes=-1)).isoformat())
    before["offline"]["captured_at"] = (now - dt.timedelta(minutes=2)).isoformat()
    refused = upload(client, csrf, before, "k-b")
    assert refused.get_json()["codes"] == ["capture_before_visit"]

    # The slip said one-yuan programme; the register says community hukou.
    community = upload(client, csrf, offline_body(world, now, who="insured_community"), "k-c")
    assert community.status_code == 409
    body = community.get_json()
    assert body["codes"] == ["programme_differs"]
    assert "一元" in body["errors"]["code:programme_differs"]
    assert body["quote"]["programme"] is False and body["quote"]["totals"]["patient"]["total"]

    # A price changed while the terminal was offline (换药 5.00 → 6.00 from today).
    with unit_of_work() as s:
        item = s.scalars(select(CatalogItem).where(CatalogItem.code == "HY001")).one()
        old = s.scalars(select(ItemPrice).where(ItemPrice.item_id == item.id)).one()
        old.valid_to = dt.date(2026, 10, 14)
        s.add(ItemPrice(item_id=item.id, price=600, valid_from=dt.date(2026, 10, 15)))
    changed = upload(client, csrf, offline_body(world, now), "k-p")
    assert changed.status_code == 409
    answer = changed.get_json()
    assert answer["codes"] == ["patient_differs"]
    assert answer["quote"]["totals"]["patient"]["total"] == "7.00"
    assert [line["unit_price"] for line in answer["quote"]["lines"]] == ["10.00", "6.00"]
    assert visits() == []

    # The doctor accepts the server's amount: the same key, now recorded, number 1.
    accepted = upload(client, csrf, offline_body(world, now, expected_patient="7.00"), "k-p")
    assert accepted.status_code == 201
    assert accepted.get_json()["receipt_number"] == "HD001-2026-000001"


def test_a_submitted_month_refuses_its_offline_visits(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    from app.auth.models import User
    from app.settlement.operations import submit_statement

    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None
    submit_statement("HD001", "2026-09", doctor, clock())
    csrf = login(client)
    september = dt.datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)
    refused = upload(client, csrf, offline_body(world, september), "k-s")
    assert refused.status_code == 409
    assert refused.get_json()["codes"] == ["month_frozen"]
    # A capture time in the submitted month for a visit typed as earlier, too.
    capture = offline_body(world, september, visited_at=september.isoformat())
    capture["offline"]["captured_at"] = september.isoformat()
    assert upload(client, csrf, capture, "k-t").status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0


def test_an_upload_needs_its_key_the_csrf_token_and_the_offline_part(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    csrf = login(client)
    now = clock().astimezone(SHANGHAI)
    body = offline_body(world, now)
    no_key = client.post("/visits/offline/sync", json=body, headers={"X-CSRFToken": csrf})
    assert no_key.status_code == 428
    no_csrf = client.post("/visits/offline/sync", json=body, headers={"Idempotency-Key": "k"})
    assert no_csrf.status_code == 400
    online = dict(body)
    del online["offline"]
    assert upload(client, csrf, online, "k").status_code == 422
    bad = offline_body(world, now, code="not a code!")
    assert upload(client, csrf, bad, "k").get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    client.post("/logout", data={"csrf_token": csrf})
    # Logged out (or the session ended during the outage): the old token is refused,
    # and asking for a new one says to log in again; the terminal keeps its queue.
    stale = upload(client, csrf, body, "k")
    assert stale.status_code == 400 and stale.get_json()["ok"] is False
    token = client.get("/visits/offline/token")
    assert token.status_code == 401 and token.get_json()["login"] == "/login"


def test_the_api_takes_the_offline_part_too(
    world: World, client: FlaskClient, clock: FixedClock
) -> None:
    captured = clock().astimezone(SHANGHAI) - dt.timedelta(hours=1)
    response = client.post(
        "/api/v1/visits",
        data=json.dumps(offline_body(world, captured, "L261015-API-01")),
        headers={
            **world.auth("doctor"),
            "Content-Type": "application/json",
            "Idempotency-Key": "api-1",
        },
    )
    assert response.status_code == 201, response.text
    (visit,) = visits()
    assert visit.offline_code == "L261015-API-01"


def test_the_service_worker_is_served_from_the_terminal_scope(client: FlaskClient) -> None:
    response = client.get("/visits/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert 'addEventListener("fetch"' in response.get_data(as_text=True)


def test_the_roster_holds_only_the_days_in_the_programme(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    from app.people.models import Resident
    from app.places.models import Clinic

    with unit_of_work() as s:
        resident = s.scalars(
            select(Resident).where(Resident.id_number == world.ids["insured_village"])
        ).one()
        resident.insured_to = dt.date(2026, 10, 31)  # insured to the end of October
        s.scalars(select(Clinic).where(Clinic.code == "HD001")).one().left_on = dt.date(
            2026, 11, 20
        )  # the clinic leaves the programme on 20 November
    login(client)
    bundle = client.get("/visits/offline/bundle").get_json()["bundle"]
    key = roster_key(bytes.fromhex(bundle["salt"]), world.ids["insured_village"])
    assert bundle["roster"] == {key: [0, 16]}  # 15 October … 31 October

    with unit_of_work() as s:
        resident = s.scalars(
            select(Resident).where(Resident.id_number == world.ids["insured_village"])
        ).one()
        resident.insured_to = None
    bundle = client.get("/visits/offline/bundle").get_json()["bundle"]
    key = roster_key(bytes.fromhex(bundle["salt"]), world.ids["insured_village"])
    assert bundle["roster"] == {key: [0, 35]}  # … 19 November, its last day in


def test_an_uploaded_visit_is_settled_with_the_platform_once(
    client: FlaskClient, world: World, platform: Simulator,  # noqa: F811 (the imported fixture)
) -> None:
    """Issue 25 §4: a synced visit is settled like any other, and a resend settles nothing twice."""
    csrf = login(client)
    captured = dt.datetime(2026, 10, 15, 8, 30, tzinfo=SHANGHAI)
    first = upload(client, csrf, offline_body(world, captured), "key-settle")
    assert first.status_code == 201, first.text
    again = upload(client, csrf, offline_body(world, captured), "key-settle")
    assert again.status_code == 200
    visit_id = first.get_json()["visit_id"]
    settlement = db.session.scalars(
        select(InsuranceSettlement).where(InsuranceSettlement.visit_id == visit_id)
    ).one()
    assert settlement.status == "settled" and settlement.mdtrt_id
    [settled] = platform.settlements()
    assert settled["ipt_otp_no"] == first.get_json()["receipt_number"]
