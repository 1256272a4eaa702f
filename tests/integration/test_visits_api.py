"""The visit API end to end (SPEC §6), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from werkzeug.exceptions import NotFound

from app.extensions import db
from app.visits.models import FundUsage, IdempotencyKey, ReceiptCounter, Visit
from app.visits.schemas import VisitSchema
from tests.conftest import FixedClock
from tests.factories import World, build_world
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    login,
    request_scoped_g,
)

WORKED_LINES = [
    {"item": "DX001", "quantity": "1"},
    {"item": "AMX01", "quantity": "12"},
    {"item": "FFGC1", "quantity": "1"},
    {"item": "HY001", "quantity": "1"},
]


def visit_body(world: World, label: str = "insured_village", **changes: Any) -> dict[str, Any]:
    """The SPEC worked example as a request body."""
    body: dict[str, Any] = {
        "clinic": "HD001",
        "patient_id_number": world.ids[label],
        "injection": True,
        "lines": [dict(line) for line in WORKED_LINES],
    }
    body.update(changes)
    return body


def snapshot() -> dict[str, Any]:
    """Everything recording a visit writes; equal before and after a refusal."""
    s = db.session
    result = {
        "visits": s.scalar(select(func.count()).select_from(Visit)),
        "voided": s.scalar(
            select(func.count()).select_from(Visit).where(Visit.voided_at.is_not(None))
        ),
        "receipts": s.scalar(select(func.coalesce(func.sum(ReceiptCounter.last_seq), 0))),
        "fund": s.scalar(select(func.coalesce(func.sum(FundUsage.fund_paid), 0))),
        "deductible": s.scalar(select(func.coalesce(func.sum(FundUsage.deductible_used), 0))),
        "keys": s.scalar(select(func.count()).select_from(IdempotencyKey)),
    }
    s.rollback()
    return result


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


def post_visit(
    client: FlaskClient, world: World, body: dict[str, Any], user: str = "doctor", key: str = ""
) -> Any:
    # Every recording carries a key (428 without); a fresh one unless the test picks it.
    headers = {**world.auth(user), "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post("/api/v1/visits", json=body, headers=headers)


# --- quote and record -------------------------------------------------------------


def test_worked_example_quote(client: FlaskClient, world: World) -> None:
    resp = client.post("/api/v1/visits/quote", json=visit_body(world), headers=world.auth("doctor"))
    assert resp.status_code == 200, resp.json
    quote = resp.json
    assert quote["programme"] is True
    assert quote["totals"] == {
        "total": "24.70",
        "in_scope": "17.70",
        "self_pay": "5.00",
        "fund": "12.15",
        "fiscal": "5.55",
        "patient": {
            "registration": "1.00",
            "injection": "1.00",
            "copay": "0.00",
            "self_pay": "5.00",
            "total": "7.00",
        },
    }
    assert [line["amount"] for line in quote["lines"]] == ["10.00", "4.20", "3.50", "5.00"]
    assert quote["lines"][1]["unit_price"] == "0.35"
    assert quote["fund_year"] == {"paid_before": "0.00", "cap_left_after": "587.85"}
    assert quote["visited_at"] == "2026-10-15T10:00:00+08:00"
    assert snapshot()["visits"] == 0  # a quote writes nothing


def test_quote_equals_saved_visit(client: FlaskClient, world: World) -> None:
    for label in ("insured_village", "insured_community", "uninsured_village", "unknown"):
        body = visit_body(world, label)
        quote = client.post("/api/v1/visits/quote", json=body, headers=world.auth("doctor")).json
        resp = post_visit(client, world, body)
        assert resp.status_code == 201, resp.json
        visit = resp.json
        for key in ("clinic", "visited_at", "programme", "eligibility", "injection", "lines"):
            assert visit[key] == quote[key], (label, key)
        assert visit["totals"] == quote["totals"], label
        assert visit["patient"]["id_number"] == quote["patient"]["id_number"]


def test_community_variant(client: FlaskClient, world: World) -> None:
    resp = post_visit(client, world, visit_body(world, "insured_community"))
    assert resp.status_code == 201
    totals = resp.json["totals"]
    assert (totals["fund"], totals["fiscal"], totals["patient"]["total"], totals["total"]) == (
        "12.15",
        "0.00",
        "10.55",
        "22.70",
    )
    assert resp.json["programme"] is False
    assert resp.json["eligibility"]["reasons"] == ["not_village_hukou"]


def test_recorded_visit_shape(client: FlaskClient, world: World) -> None:
    resp = post_visit(client, world, visit_body(world))
    assert resp.status_code == 201
    visit = resp.json
    assert visit["receipt_number"] == "HD001-2026-000001"
    assert visit["voided"] is False and visit["void"] is None
    assert visit["patient"]["id_number"].startswith("4401") and "*" in visit["patient"]["id_number"]
    # The answer is the stored row dumped through the published schema.
    row = db.session.get(Visit, visit["id"])
    assert VisitSchema().dump(row) == visit


def test_quantity_as_integer_and_lowercase_x(client: FlaskClient, world: World) -> None:
    body = visit_body(
        world, lines=[{"item": "DX001", "quantity": 1}, {"item": "AMX01", "quantity": 12}]
    )
    resp = post_visit(client, world, body)
    assert resp.status_code == 201, resp.json
    assert [line["quantity"] for line in resp.json["lines"]] == ["1", "12"]


def test_visited_at_earlier_today_and_default(client: FlaskClient, world: World) -> None:
    resp = post_visit(client, world, visit_body(world, visited_at="2026-10-01T08:00:00+08:00"))
    assert resp.status_code == 201, resp.json
    assert resp.json["visited_at"] == "2026-10-01T08:00:00+08:00"
    resp = post_visit(client, world, visit_body(world, visited_at="2026-10-15T01:00:00Z"))
    assert resp.status_code == 201
    assert resp.json["visited_at"] == "2026-10-15T09:00:00+08:00"


# --- receipt numbers ----------------------------------------------------------------


def test_receipt_numbers_gapless_per_clinic(client: FlaskClient, world: World) -> None:
    numbers = []
    for i in range(3):
        numbers.append(post_visit(client, world, visit_body(world)).json["receipt_number"])
        # A refused visit in between takes no number.
        bad = visit_body(world, lines=[{"item": "NOPE", "quantity": "1"}])
        assert post_visit(client, world, bad).status_code == 422
        del i
    other = post_visit(client, world, visit_body(world, clinic="HD002"), user="doctor2")
    assert numbers == ["HD001-2026-000001", "HD001-2026-000002", "HD001-2026-000003"]
    assert other.json["receipt_number"] == "HD002-2026-000001"


def test_receipt_numbers_restart_in_new_year(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    assert post_visit(client, world, visit_body(world)).json["receipt_number"].endswith("-000001")
    late = visit_body(world, visited_at="2026-12-31T23:59:00+08:00")
    clock.now = dt.datetime(2027, 1, 1, 0, 30, tzinfo=dt.UTC)  # 08:30 on 1 January in Shanghai
    assert post_visit(client, world, late).json["receipt_number"] == "HD001-2026-000002"
    first = post_visit(client, world, visit_body(world)).json
    assert first["receipt_number"] == "HD001-2027-000001"
    assert (
        post_visit(client, world, visit_body(world)).json["receipt_number"] == "HD001-2027-000002"
    )
    # The Shanghai year decides: 31 Dec 16:30 UTC is already 1 January in Guangzhou.
    clock.now = dt.datetime(2027, 1, 2, 2, 0, tzinfo=dt.UTC)
    resp = post_visit(client, world, visit_body(world, visited_at="2026-12-31T16:30:00Z"))
    assert resp.json["receipt_number"] == "HD001-2027-000003"


# --- idempotency ------------------------------------------------------------------------


def test_idempotent_replay_returns_the_same_visit(client: FlaskClient, world: World) -> None:
    first = post_visit(client, world, visit_body(world), key="k-1")
    assert first.status_code == 201
    before = snapshot()
    again = post_visit(client, world, visit_body(world), key="k-1")
    assert again.status_code == 200
    assert again.json == first.json
    assert snapshot() == before
    # The key belongs to its user: another doctor's identical key is a new visit.
    other = post_visit(client, world, visit_body(world, clinic="HD002"), user="doctor2", key="k-1")
    assert other.status_code == 201 and other.json["id"] != first.json["id"]


def test_idempotency_key_with_another_body_is_409(client: FlaskClient, world: World) -> None:
    assert post_visit(client, world, visit_body(world), key="k-2").status_code == 201
    before = snapshot()
    resp = post_visit(client, world, visit_body(world, injection=False), key="k-2")
    assert resp.status_code == 409
    assert "Idempotency-Key" in resp.json["errors"]
    assert snapshot() == before


def test_without_key_each_post_is_a_visit(client: FlaskClient, world: World) -> None:
    a = post_visit(client, world, visit_body(world)).json
    b = post_visit(client, world, visit_body(world)).json
    assert a["id"] != b["id"]


# --- void -------------------------------------------------------------------------------


def test_void_gives_fund_back_and_is_refused_twice(client: FlaskClient, world: World) -> None:
    visit = post_visit(client, world, visit_body(world)).json
    assert snapshot()["fund"] == 1215
    resp = client.post(
        f"/api/v1/visits/{visit['id']}/void",
        json={"reason": "录错病人"},
        headers=world.auth("doctor"),
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["voided"] is True
    assert resp.json["void"]["reason"] == "录错病人"
    assert resp.json["void"]["at"] == "2026-10-15T10:00:00+08:00"
    assert snapshot()["fund"] == 0
    again = client.post(
        f"/api/v1/visits/{visit['id']}/void", json={"reason": "again"}, headers=world.auth("doctor")
    )
    assert again.status_code == 409
    assert "visit" in again.json["errors"]
    assert snapshot()["fund"] == 0
    # The cap left is back to whole for the next visit.
    quote = client.post(
        "/api/v1/visits/quote", json=visit_body(world), headers=world.auth("doctor")
    )
    assert quote.json["fund_year"]["paid_before"] == "0.00"


def test_void_needs_a_reason(client: FlaskClient, world: World) -> None:
    visit = post_visit(client, world, visit_body(world)).json
    for body in (
        {"reason": "  "},
        {},
        {"reason": None},
        {"reason": "x" * 201},
        {"reason": "a\x00"},
    ):
        resp = client.post(
            f"/api/v1/visits/{visit['id']}/void", json=body, headers=world.auth("doctor")
        )
        assert resp.status_code == 422, body
        assert "reason" in resp.json["errors"]
    assert snapshot()["voided"] == 0


def test_void_unknown_visit_is_404(client: FlaskClient, world: World) -> None:
    for visit_id in (999, 2**40):
        resp = client.post(
            f"/api/v1/visits/{visit_id}/void", json={"reason": "x"}, headers=world.auth("doctor")
        )
        assert resp.status_code == 404
        assert resp.is_json


def test_every_visit_route_takes_any_64_bit_id_and_no_more(app: Flask) -> None:
    """Visit ids are 64-bit (BIGINT): the routes match every one, and 404 beyond."""
    urls = app.url_map.bind("localhost")
    paths = [
        ("/api/v1/visits/{}", "GET"),
        ("/api/v1/visits/{}/void", "POST"),
        ("/visits/{}/receipt", "GET"),
        ("/visits/{}/receipt.pdf", "GET"),
        ("/visits/{}/void", "GET"),
    ]
    for path, method in paths:
        for visit_id in (2**31, 2**63 - 1):
            _endpoint, args = urls.match(path.format(visit_id), method=method)
            assert args == {"visit_id": visit_id}, path
        with pytest.raises(NotFound):
            urls.match(path.format(2**63), method=method)


@pytest.mark.one_database("postgresql")  # the id comes from visit's sequence, set past 32 bits
def test_a_visit_beyond_32_bit_ids_is_read_printed_and_voided(
    app: Flask,
    client: FlaskClient,
    world: World,
    request_scoped_g: None,  # noqa: F811
) -> None:
    db.session.execute(text("SELECT setval(pg_get_serial_sequence('visit', 'id'), 3000000000)"))
    db.session.commit()
    visit = post_visit(client, world, visit_body(world)).json
    assert visit["id"] > 2**31
    read = client.get(f"/api/v1/visits/{visit['id']}", headers=world.auth("doctor"))
    assert read.status_code == 200 and read.json == visit
    login(client)
    assert visit["receipt_number"] in client.get(f"/visits/{visit['id']}/receipt").text
    pdf = client.get(f"/visits/{visit['id']}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    voided = client.post(
        f"/api/v1/visits/{visit['id']}/void",
        json={"reason": "录错病人"},
        headers=world.auth("doctor"),
    )
    assert voided.status_code == 200 and voided.json["voided"] is True


# --- read and list -----------------------------------------------------------------------


def test_get_visit(client: FlaskClient, world: World) -> None:
    visit = post_visit(client, world, visit_body(world)).json
    for user in ("doctor", "reviewer", "finance", "admin"):  # town_reviewer: another town
        resp = client.get(f"/api/v1/visits/{visit['id']}", headers=world.auth(user))
        assert resp.status_code == 200, user
        assert resp.json == visit
    assert client.get("/api/v1/visits/12345", headers=world.auth("doctor")).status_code == 404
    assert client.get(f"/api/v1/visits/{2**40}", headers=world.auth("doctor")).status_code == 404


def test_pagination(client: FlaskClient, world: World) -> None:
    ids = []
    for hour in range(1, 8):  # 01:00 … 07:00 Shanghai on 15 October
        body = visit_body(world, visited_at=f"2026-10-15T0{hour}:00:00+08:00")
        ids.append(post_visit(client, world, body).json["id"])
    # The day before in Shanghai (though the same UTC day), and another clinic.
    post_visit(client, world, visit_body(world, visited_at="2026-10-14T23:59:59+08:00"))
    post_visit(client, world, visit_body(world, clinic="HD002"), user="doctor2")
    newest_first = list(reversed(ids))

    got = []
    for page in (1, 2, 3):
        resp = client.get(
            f"/api/v1/visits?clinic=HD001&date_from=2026-10-15&date_to=2026-10-15"
            f"&page_size=3&page={page}",
            headers=world.auth("admin"),
        )
        meta = json.loads(resp.headers["X-Pagination"])
        assert (meta["page"], meta["total"], meta["total_pages"]) == (page, 7, 3)
        assert all(item["clinic"] == "HD001" for item in resp.json)
        got += [item["id"] for item in resp.json]
    assert got == newest_first
    # A doctor's list defaults to his own clinic and 50 a page.
    everything = client.get("/api/v1/visits", headers=world.auth("doctor"))
    assert json.loads(everything.headers["X-Pagination"])["total"] == 8
    assert len(everything.json) == 8
    before = client.get("/api/v1/visits?date_to=2026-10-14", headers=world.auth("doctor"))
    assert json.loads(before.headers["X-Pagination"])["total"] == 1
    assert before.json[0]["visited_at"] == "2026-10-14T23:59:59+08:00"
    beyond = client.get("/api/v1/visits?page=9", headers=world.auth("doctor"))
    assert beyond.json == [] and json.loads(beyond.headers["X-Pagination"])["total"] == 8
    reviewer = client.get("/api/v1/visits?clinic=HD002", headers=world.auth("reviewer"))
    assert json.loads(reviewer.headers["X-Pagination"])["total"] == 1


def test_list_arguments_are_checked(client: FlaskClient, world: World) -> None:
    cases = {
        "/api/v1/visits?page=0": "page",
        "/api/v1/visits?page_size=1000": "page_size",
        "/api/v1/visits?page=100001": "page",
        "/api/v1/visits?date_from=2026-13-01": "date_from",
        "/api/v1/visits?date_from=2026-10-02&date_to=2026-10-01": "date_to",
        "/api/v1/visits?colour=red": "colour",
        "/api/v1/visits?clinic=NOPE": "clinic",
        "/api/v1/visits?clinic=HD%00": "clinic",
        "/api/v1/visits?date_from=0001-01-01": "date_from",
        "/api/v1/visits?page=abc": "page",
    }
    for url, field in cases.items():
        resp = client.get(url, headers=world.auth("doctor" if field != "clinic" else "admin"))
        assert resp.status_code == 422, url
        assert field in resp.json["errors"], (url, resp.json)
    resp = client.get("/api/v1/visits", headers=world.auth("reviewer"))
    assert resp.status_code == 422 and "clinic" in resp.json["errors"]


# --- scope and authentication ---------------------------------------------------------------


def test_scope(client: FlaskClient, world: World) -> None:
    visit = post_visit(client, world, visit_body(world)).json
    url = f"/api/v1/visits/{visit['id']}"
    for user in ("doctor2", "hp_reviewer", "town_reviewer"):
        resp = client.get(url, headers=world.auth(user))
        assert resp.status_code == 403, user
        assert "visit" in resp.json["errors"]
    for user in ("doctor2", "reviewer", "admin", "hp_reviewer"):
        resp = client.post(f"{url}/void", json={"reason": "x"}, headers=world.auth(user))
        assert resp.status_code == 403, user
    for user in ("doctor2", "hp_reviewer"):
        resp = client.get("/api/v1/visits?clinic=HD001", headers=world.auth(user))
        assert resp.status_code == 403 and "clinic" in resp.json["errors"]
    resp = client.get("/api/v1/visits?clinic=HD002", headers=world.auth("town_reviewer"))
    assert resp.status_code == 200
    # Only the clinic's doctor records its visits; reviewers and admins do not.
    for user in ("doctor2", "reviewer", "admin"):
        resp = post_visit(client, world, visit_body(world), user=user)
        assert resp.status_code == 403 and "clinic" in resp.json["errors"]
    assert snapshot()["visits"] == 1 and snapshot()["voided"] == 0


def test_authentication(client: FlaskClient, world: World) -> None:
    urls = [
        ("get", "/api/v1/visits?clinic=HD001"),
        ("get", "/api/v1/visits/1"),
        ("post", "/api/v1/visits"),
        ("post", "/api/v1/visits/quote"),
        ("post", "/api/v1/visits/1/void"),
        ("post", "/api/v1/residents/eligibility"),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        for method, url in urls:
            resp = getattr(client, method)(url, json=visit_body(world), headers=headers)
            assert resp.status_code == 401, (url, headers)
            assert "Authorization" in resp.json["errors"]
            assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert snapshot()["visits"] == 0


# --- eligibility --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "clinic", "programme", "reasons"),
    [
        ("insured_village", "HD001", True, []),
        ("insured_community", "HD001", False, ["not_village_hukou"]),
        ("uninsured_village", "HD001", False, ["not_insured"]),
        ("other_district", "HD001", False, ["other_district"]),
        ("expired_village", "HD001", False, ["not_insured"]),
        ("unknown", "HD001", False, ["unknown_resident"]),
        ("insured_village", "HD003", False, ["clinic_not_in_programme"]),
    ],
)
def test_eligibility(
    client: FlaskClient,
    world: World,
    label: str,
    clinic: str,
    programme: bool,
    reasons: list[str],
) -> None:
    user = "doctor3" if clinic == "HD003" else "doctor"
    resp = client.post(
        "/api/v1/residents/eligibility",
        json={"id_number": world.ids[label], "clinic": clinic},
        headers=world.auth(user),
    )
    assert resp.status_code == 200, resp.json
    data = resp.json
    assert data["programme"] is programme
    assert data["reasons"] == reasons
    assert data["date"] == "2026-10-15"
    assert data["registered"] is (label != "unknown")
    assert data["clinic"] == clinic
    if label == "unknown":
        assert data["name"] is None and data["insurance"] is None
    else:
        assert re.fullmatch(r".\*+", data["name"])


def eligibility(client: FlaskClient, world: World, user: str, **body: str) -> Any:
    return client.post("/api/v1/residents/eligibility", json=body, headers=world.auth(user))


def test_eligibility_defaults_and_dates(client: FlaskClient, world: World) -> None:
    number = world.ids["insured_village"]
    data = eligibility(client, world, "doctor", id_number=number).json
    assert (data["clinic"], data["date"], data["programme"]) == ("HD001", "2026-10-15", True)
    assert data["fund_year"] == {"year": 2026, "paid": "0.00", "cap": "600.00", "left": "600.00"}
    post_visit(client, world, visit_body(world))
    data = eligibility(client, world, "doctor", id_number=number.lower()).json
    assert data["fund_year"]["paid"] == "12.15" and data["fund_year"]["left"] == "587.85"
    # Before the first policy version there is no programme.
    data = eligibility(
        client, world, "reviewer", id_number=number, clinic="HD001", date="2025-06-01"
    ).json
    assert data["programme"] is False and "no_policy" in data["reasons"]


def test_eligibility_errors(client: FlaskClient, world: World) -> None:
    number = world.ids["insured_village"]
    wrong_check = number[:-1] + ("1" if number[-1] != "1" else "2")
    cases: list[tuple[str, dict[str, str], int, str]] = [
        ("doctor", {"id_number": "123"}, 422, "id_number"),
        ("doctor", {"id_number": wrong_check}, 422, "id_number"),
        ("doctor", {}, 422, "id_number"),
        ("reviewer", {"id_number": number}, 422, "clinic"),
        ("doctor", {"id_number": number, "clinic": "NOPE"}, 422, "clinic"),
        ("doctor", {"id_number": number, "date": "tomorrow"}, 422, "date"),
        ("doctor", {"id_number": number, "x": "1"}, 422, "x"),
        ("doctor2", {"id_number": number, "clinic": "HD001"}, 403, "clinic"),
        ("hp_reviewer", {"id_number": number, "clinic": "HD001"}, 403, "clinic"),
    ]
    for user, body, status, field in cases:
        resp = eligibility(client, world, user, **body)
        assert resp.status_code == status, (body, resp.json)
        assert field in resp.json["errors"], (body, resp.json)
    # The old address, with the ID number in the URL, is gone.
    old = client.get(f"/api/v1/residents/{number}/eligibility", headers=world.auth("doctor"))
    assert old.status_code == 404


def test_every_read_of_a_residents_record_is_logged(
    app: Flask, client: FlaskClient, world: World
) -> None:
    number = world.ids["insured_village"]
    eligibility(client, world, "doctor", id_number=number)
    eligibility(client, world, "reviewer", id_number=number, clinic="HD001")
    eligibility(client, world, "doctor", id_number=world.ids["unknown"])  # nobody's record
    visit = post_visit(client, world, visit_body(world)).json
    client.get(f"/api/v1/visits/{visit['id']}", headers=world.auth("reviewer"))
    out = app.test_cli_runner().invoke(args=["audit", "access", "--resident", number])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[-1] == "3 read(s)"
    assert [line.split()[2] for line in lines[:-1]] == ["reviewer", "reviewer", "doctor"]
    assert [line.split()[6] for line in lines[:-1]] == ["visit", "eligibility", "eligibility"]
    assert number not in out.output and number[-4:] in out.output  # masked
    by_user = app.test_cli_runner().invoke(args=["audit", "access", "--user", "doctor"])
    assert by_user.output.splitlines()[-1] == "1 read(s)"


def test_recording_without_an_idempotency_key_is_428(client: FlaskClient, world: World) -> None:
    resp = client.post("/api/v1/visits", json=visit_body(world), headers=world.auth("doctor"))
    assert resp.status_code == 428
    assert "Idempotency-Key" in resp.json["errors"]
    assert snapshot()["visits"] == 0


# --- OpenAPI and docs ------------------------------------------------------------------------


def test_openapi_documents_the_endpoints(client: FlaskClient, app: Flask) -> None:
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.json
    paths = spec["paths"]
    assert set(paths["/api/v1/visits"]) >= {"get", "post"}
    for path in (
        "/api/v1/visits/quote",
        "/api/v1/visits/{visit_id}",
        "/api/v1/visits/{visit_id}/void",
        "/api/v1/residents/eligibility",
    ):
        assert path in paths, path
    post = paths["/api/v1/visits"]["post"]
    assert {"200", "201", "409", "422", "401"} <= set(post["responses"])
    assert "replay" in post["responses"]["200"]["description"].lower()
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    assert "requestBody" in post
    schemas = spec["components"]["schemas"]
    assert {"VisitIn", "LineIn", "Visit", "Quote", "PatientEligibility"} <= set(schemas)
    assert set(schemas["VisitIn"]["properties"]) == {
        "clinic",
        "patient_id_number",
        "visited_at",
        "injection",
        "lines",
        "warning_reason",
        "offline",
        "diagnoses",
    }
    assert set(schemas["OfflineIn"]["properties"]) == {
        "captured_at",
        "code",
        "expected_patient",
        "expected_programme",
    }
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}]


def test_docs_page_is_served_locally(client: FlaskClient) -> None:
    resp = client.get("/api/v1/docs/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    resp.close()
    assert "SwaggerUIBundle" in html and "/api/v1/openapi.json" in html
    # Nothing from a CDN: every absolute URL is the app's own host.
    for url in re.findall(r"https?://[^\s\"'<>]+", html):
        assert url.startswith("http://localhost/"), url
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/api/v1/docs/"), asset
        with client.get(asset) as asset_resp:
            assert asset_resp.status_code == 200, asset
