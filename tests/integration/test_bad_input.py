"""Bad input to the visit API: a 4xx naming the field, and nothing written.

Each case posts a broken request, checks the status and that the JSON error
names the failing field, and compares everything a visit writes (visits,
receipt counters, fund usage, idempotency keys, statements) before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.database import unit_of_work
from app.extensions import db
from app.places.models import Clinic
from app.settlement.models import Statement
from tests.conftest import FixedClock
from tests.factories import World, build_world
from tests.integration.test_visits_api import post_visit, snapshot, visit_body

ENDPOINTS = ["/api/v1/visits", "/api/v1/visits/quote"]


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


def full_snapshot() -> dict[str, Any]:
    result = snapshot()
    result["statements"] = db.session.scalar(select(func.count()).select_from(Statement))
    db.session.rollback()
    return result


def assert_refused(resp: Any, status: int, field: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json
    body = resp.json
    assert body["status"] == status
    assert field in body["errors"], body
    assert all(isinstance(m, str) and m for m in body["errors"][field])
    assert field in body["message"] or body["message"]


def wrong_check_digit(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


Case = Callable[[World], dict[str, Any]]

# name → (body maker, status, field named)
BODY_CASES: dict[str, tuple[Case, int, str]] = {
    "malformed_id": (
        lambda w: visit_body(w, patient_id_number="44011419600307"),
        422,
        "patient_id_number",
    ),
    "id_letters": (lambda w: visit_body(w, patient_id_number="A" * 18), 422, "patient_id_number"),
    "id_impossible_birth_date": (
        lambda w: visit_body(w, patient_id_number="440114196002300010"),
        422,
        "patient_id_number",
    ),
    "wrong_check_digit": (
        lambda w: visit_body(w, patient_id_number=wrong_check_digit(w.ids["insured_village"])),
        422,
        "patient_id_number",
    ),
    "id_not_a_string": (
        lambda w: visit_body(w, patient_id_number=440114),
        422,
        "patient_id_number",
    ),
    "missing_id": (
        lambda w: {k: v for k, v in visit_body(w).items() if k != "patient_id_number"},
        422,
        "patient_id_number",
    ),
    "unknown_item": (
        lambda w: visit_body(
            w, lines=[{"item": "DX001", "quantity": "1"}, {"item": "XX999", "quantity": "1"}]
        ),
        422,
        "lines[1].item",
    ),
    "clinic_with_nul": (lambda w: visit_body(w, clinic="HD\x00001"), 422, "clinic"),
    "item_with_nul": (
        lambda w: visit_body(w, lines=[{"item": "DX\x00", "quantity": "1"}]),
        422,
        "lines[0].item",
    ),
    "visited_at_year_one": (
        lambda w: visit_body(w, visited_at="0001-01-01T00:00:00+08:00"),
        422,
        "visited_at",
    ),
    "visited_at_bad_offset": (
        lambda w: visit_body(w, visited_at="2026-10-15T09:00:00+25:00"),
        422,
        "visited_at",
    ),
    "unknown_clinic": (lambda w: visit_body(w, clinic="ZZ999"), 422, "clinic"),
    "empty_clinic": (lambda w: visit_body(w, clinic=""), 422, "clinic"),
    "clinic_not_a_string": (lambda w: visit_body(w, clinic=1), 422, "clinic"),
    "quantity_zero": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "0"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_zero_int": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": 0}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_negative": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "-2"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_negative_int": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": -2}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_four_decimals": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "1.2345"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_float": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": 1.5}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_bool": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": True}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_text": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "twelve"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_exponent": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "1e3"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_nan": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "NaN"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_huge": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "99999999999999999999"}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_huge_int": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": 10**30}]),
        422,
        "lines[0].quantity",
    ),
    "quantity_missing": (
        lambda w: visit_body(w, lines=[{"item": "AMX01"}]),
        422,
        "lines[0].quantity",
    ),
    "second_consultation": (
        lambda w: visit_body(
            w, lines=[{"item": "DX001", "quantity": "1"}, {"item": "DX001", "quantity": "1"}]
        ),
        422,
        "lines[1].item",
    ),
    "consultation_quantity_two": (
        lambda w: visit_body(w, lines=[{"item": "DX001", "quantity": "2"}]),
        422,
        "lines[0].quantity",
    ),
    "no_lines": (lambda w: visit_body(w, lines=[]), 422, "lines"),
    "lines_missing": (
        lambda w: {k: v for k, v in visit_body(w).items() if k != "lines"},
        422,
        "lines",
    ),
    "lines_not_a_list": (lambda w: visit_body(w, lines={"item": "DX001"}), 422, "lines"),
    "line_not_an_object": (lambda w: visit_body(w, lines=["DX001"]), 422, "lines[0]"),
    "too_many_lines": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "1"}] * 61),
        422,
        "lines",
    ),
    "unknown_field": (lambda w: visit_body(w, price="0.01"), 422, "price"),
    "unknown_line_field": (
        lambda w: visit_body(w, lines=[{"item": "AMX01", "quantity": "1", "unit_price": "0.01"}]),
        422,
        "lines[0].unit_price",
    ),
    "injection_not_bool": (lambda w: visit_body(w, injection="yes"), 422, "injection"),
    "injection_number": (lambda w: visit_body(w, injection=1), 422, "injection"),
    "visited_at_future": (
        lambda w: visit_body(w, visited_at="2026-10-15T10:00:01+08:00"),
        422,
        "visited_at",
    ),
    "visited_at_naive": (
        lambda w: visit_body(w, visited_at="2026-10-15T09:00:00"),
        422,
        "visited_at",
    ),
    "visited_at_date_only": (lambda w: visit_body(w, visited_at="2026-10-15"), 422, "visited_at"),
    "visited_at_garbage": (lambda w: visit_body(w, visited_at="yesterday"), 422, "visited_at"),
    "visited_at_number": (lambda w: visit_body(w, visited_at=1760493600), 422, "visited_at"),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_bad_body(client: FlaskClient, world: World, endpoint: str) -> None:
    # One world for all cases (building it is the slow part); every case is
    # still checked on its own and all failures are reported together.
    failures = []
    before = full_snapshot()
    for case, (make, status, field) in sorted(BODY_CASES.items()):
        headers = {**world.auth("doctor"), "Idempotency-Key": f"bad-{case}"}
        resp = client.post(endpoint, json=make(world), headers=headers)
        try:
            assert_refused(resp, status, field)
            assert full_snapshot() == before, "something was written"
        except AssertionError as exc:
            failures.append(f"{case}: {exc}")
    assert failures == []


def test_every_problem_is_named_at_once(client: FlaskClient, world: World) -> None:
    body = visit_body(
        world,
        lines=[
            {"item": "DX001", "quantity": "1"},
            {"item": "NOPE", "quantity": "1"},
            {"item": "AMX01", "quantity": "0"},
            {"item": "DX001", "quantity": "1"},
        ],
    )
    resp = post_visit(client, world, body)
    assert resp.status_code == 422
    assert {"lines[1].item", "lines[2].quantity"} <= set(resp.json["errors"])
    assert resp.json["codes"]["lines[1].item"] == "unknown_item"


# --- not JSON at all --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "/api/v1/visits/1/void"])
def test_not_json(client: FlaskClient, world: World, endpoint: str) -> None:
    before = full_snapshot()
    headers = world.auth("doctor")
    resp = client.post(endpoint, data="clinic=HD001", headers=headers)
    assert_refused(resp, 415, "Content-Type")
    resp = client.post(endpoint, data="{not json", headers=headers, content_type="application/json")
    assert_refused(resp, 400, "body")
    resp = client.post(endpoint, data="", headers=headers, content_type="application/json")
    assert resp.status_code == 422 and resp.json["errors"]  # an empty body lacks every field
    resp = client.post(endpoint, json=[1, 2], headers=headers)
    assert_refused(resp, 422, "body")
    resp = client.post(endpoint, json="a string", headers=headers)
    assert_refused(resp, 422, "body")
    resp = client.post(endpoint, data=b"\xff\xfe", headers=headers, content_type="application/json")
    assert resp.status_code == 400 and resp.is_json
    assert full_snapshot() == before


# --- who and when ----------------------------------------------------------------------


def test_doctor_writing_to_another_clinic(client: FlaskClient, world: World) -> None:
    before = full_snapshot()
    resp = post_visit(client, world, visit_body(world, clinic="HD002"))
    assert_refused(resp, 403, "clinic")
    resp = client.post(
        "/api/v1/visits/quote", json=visit_body(world, clinic="HD002"), headers=world.auth("doctor")
    )
    assert_refused(resp, 403, "clinic")
    assert full_snapshot() == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Token x"},
    ],
)
def test_missing_or_wrong_token(client: FlaskClient, world: World, headers: dict[str, str]) -> None:
    before = full_snapshot()
    resp = client.post("/api/v1/visits", json=visit_body(world), headers=headers)
    assert_refused(resp, 401, "Authorization")
    assert full_snapshot() == before


def test_idempotency_key_reused_with_another_body(client: FlaskClient, world: World) -> None:
    assert post_visit(client, world, visit_body(world), key="abc").status_code == 201
    before = full_snapshot()
    other = visit_body(world, lines=[{"item": "DX001", "quantity": "1"}])
    assert_refused(post_visit(client, world, other, key="abc"), 409, "Idempotency-Key")
    assert full_snapshot() == before


def test_idempotency_key_too_long(client: FlaskClient, world: World) -> None:
    before = full_snapshot()
    assert_refused(
        post_visit(client, world, visit_body(world), key="k" * 101), 422, "Idempotency-Key"
    )
    assert full_snapshot() == before


def freeze(clinic_code: str, month: str) -> None:
    """Mark a clinic-month submitted, as settlement would (figures stored)."""
    with unit_of_work() as session:
        clinic = session.scalar(select(Clinic).where(Clinic.code == clinic_code))
        assert clinic is not None
        statement = session.scalar(
            select(Statement).where(Statement.clinic_id == clinic.id, Statement.month == month)
        )
        if statement is None:
            statement = Statement(clinic_id=clinic.id, month=month)
            session.add(statement)
        statement.status = "submitted"
        for name in (
            "visits",
            "programme_visits",
            "injections",
            "total",
            "in_scope",
            "fund",
            "fiscal",
            "registration",
            "injection",
            "copay",
            "self_pay",
            "patient",
        ):
            setattr(statement, name, 0)


def test_visited_at_in_a_frozen_month(client: FlaskClient, world: World) -> None:
    september = visit_body(world, visited_at="2026-09-30T20:00:00+08:00")
    assert post_visit(client, world, september).status_code == 201
    freeze("HD001", "2026-09")
    before = full_snapshot()
    resp = post_visit(client, world, visit_body(world, visited_at="2026-09-30T23:59:00+08:00"))
    assert_refused(resp, 409, "visited_at")
    assert resp.json["codes"]["visited_at"] == "month_frozen"
    assert full_snapshot() == before
    # 16:00 UTC on 30 September is already October in Shanghai: open.
    resp = post_visit(client, world, visit_body(world, visited_at="2026-09-30T16:00:00Z"))
    assert resp.status_code == 201
    # The freeze is per clinic: HD002's September is still open.
    other = visit_body(world, clinic="HD002", visited_at="2026-09-30T20:00:00+08:00")
    assert post_visit(client, world, other, user="doctor2").status_code == 201


def test_void_in_a_frozen_month(client: FlaskClient, world: World) -> None:
    september = visit_body(world, visited_at="2026-09-30T20:00:00+08:00")
    visit = post_visit(client, world, september).json
    freeze("HD001", "2026-09")
    before = full_snapshot()
    resp = client.post(
        f"/api/v1/visits/{visit['id']}/void", json={"reason": "late"}, headers=world.auth("doctor")
    )
    assert_refused(resp, 409, "visit")
    assert full_snapshot() == before


def test_void_unknown_fields_and_scope(client: FlaskClient, world: World) -> None:
    visit = post_visit(client, world, visit_body(world)).json
    before = full_snapshot()
    url = f"/api/v1/visits/{visit['id']}/void"
    assert_refused(
        client.post(url, json={"reason": "x", "by": "me"}, headers=world.auth("doctor")), 422, "by"
    )
    assert_refused(
        client.post(url, json={"reason": 5}, headers=world.auth("doctor")), 422, "reason"
    )
    assert_refused(
        client.post(url, json={"reason": "x"}, headers=world.auth("doctor2")), 403, "visit"
    )
    assert_refused(client.post(url, json={"reason": "x"}), 401, "Authorization")
    assert full_snapshot() == before


def test_unknown_route_and_method_are_json(client: FlaskClient, world: World) -> None:
    resp = client.get("/api/v1/visits/abc", headers=world.auth("doctor"))
    assert resp.status_code == 404 and resp.is_json
    resp = client.delete("/api/v1/visits/1", headers=world.auth("doctor"))
    assert resp.status_code == 405 and resp.is_json
