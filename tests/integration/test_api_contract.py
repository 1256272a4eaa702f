"""Every visits, residents and catalogue answer matches the app's own OpenAPI document.

Real responses — the successes and every documented error the endpoints
raise (401, 403, 404, 409, 415, 422) — are checked with ``openapi-core``
against ``/api/v1/openapi.json``: the status must be documented for that
operation and the body (and documented headers) must fit its schema, so the
published document cannot drift from what is sent.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.conftest import FixedClock
from tests.factories import World, build_world

LINES = [{"item": "DX001", "quantity": "1"}, {"item": "AMX01", "quantity": "12"}]


def _body(world: World, **changes: Any) -> dict[str, Any]:
    body = {
        "clinic": "HD001",
        "patient_id_number": world.ids["insured_village"],
        "injection": True,
        "lines": LINES,
    }
    return {**body, **changes}


def test_every_answer_matches_the_published_document(
    client: FlaskClient, clock: FixedClock
) -> None:
    world = build_world(clock())
    spec = OpenAPI.from_dict(client.get("/api/v1/openapi.json").json)
    doctor, admin, other = world.auth("doctor"), world.auth("admin"), world.auth("doctor2")
    seen: set[tuple[str, str, int]] = set()

    def check(method: str, url: str, status: int, **kwargs: Any) -> Any:
        resp = client.open(url, method=method, **kwargs)
        assert resp.status_code == status, (method, url, resp.get_data(as_text=True))
        # The answer is checked for the operation the request went to; the
        # request itself is rebuilt without its (already read) body.
        sent = Request(EnvironBuilder(url, method=method).get_environ())
        spec.validate_response(WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(resp))
        seen.add((method, url.split("?")[0], status))
        return resp

    first = {**doctor, "Idempotency-Key": "k-0"}
    visit = check("POST", "/api/v1/visits", 201, json=_body(world), headers=first).json
    vid = visit["id"]
    keyed = {**doctor, "Idempotency-Key": "k-1"}
    check("POST", "/api/v1/visits", 201, json=_body(world), headers=keyed)
    check("POST", "/api/v1/visits", 200, json=_body(world), headers=keyed)
    check("POST", "/api/v1/visits", 409, json=_body(world, injection=False), headers=keyed)
    check("POST", "/api/v1/visits", 401, json=_body(world))
    check("POST", "/api/v1/visits", 428, json=_body(world), headers=doctor)  # no key
    check(
        "POST", "/api/v1/visits", 403, json=_body(world), headers={**admin, "Idempotency-Key": "a"}
    )
    check("POST", "/api/v1/visits", 415, data="clinic=HD001", headers=doctor)
    fresh = {**doctor, "Idempotency-Key": "k-2"}
    check("POST", "/api/v1/visits", 422, json=_body(world, injection="false"), headers=fresh)
    check("POST", "/api/v1/visits", 422, json=_body(world, lines=[]), headers=fresh)

    check("POST", "/api/v1/visits/quote", 200, json=_body(world), headers=doctor)
    unknown = _body(world, patient_id_number=world.ids["unknown"])
    check("POST", "/api/v1/visits/quote", 200, json=unknown, headers=doctor)
    check("POST", "/api/v1/visits/quote", 401, json=_body(world))
    check("POST", "/api/v1/visits/quote", 403, json=_body(world), headers=other)
    check("POST", "/api/v1/visits/quote", 415, data="x", headers=doctor)
    check("POST", "/api/v1/visits/quote", 422, json={"clinic": "HD001"}, headers=doctor)

    check("GET", "/api/v1/visits", 200, headers=doctor)
    check("GET", "/api/v1/visits?clinic=HD001&page=2&page_size=1", 200, headers=admin)
    check("GET", "/api/v1/visits", 401)
    check("GET", "/api/v1/visits?clinic=HD001", 403, headers=other)
    check("GET", "/api/v1/visits?page_size=0", 422, headers=doctor)
    check("GET", "/api/v1/visits?colour=red", 422, headers=doctor)

    check("GET", f"/api/v1/visits/{vid}", 200, headers=doctor)
    check("GET", f"/api/v1/visits/{vid}", 401)
    check("GET", f"/api/v1/visits/{vid}", 403, headers=other)
    check("GET", "/api/v1/visits/999999", 404, headers=doctor)

    void = f"/api/v1/visits/{vid}/void"
    check("POST", void, 401, json={"reason": "typo"})
    check("POST", void, 403, json={"reason": "typo"}, headers=other)
    check("POST", "/api/v1/visits/999999/void", 404, json={"reason": "typo"}, headers=doctor)
    check("POST", void, 415, data="reason=typo", headers=doctor)
    check("POST", void, 422, json={}, headers=doctor)
    check("POST", void, 200, json={"reason": "typo"}, headers=doctor)
    check("POST", void, 409, json={"reason": "again"}, headers=doctor)
    check("GET", f"/api/v1/visits/{vid}", 200, headers=doctor)  # now with its void

    who = "/api/v1/residents/eligibility"
    number = world.ids["insured_village"]
    check("POST", who, 200, json={"id_number": number}, headers=doctor)
    check("POST", who, 200, json={"id_number": world.ids["unknown"]}, headers=doctor)
    check("POST", who, 401, json={"id_number": number})
    check("POST", who, 403, json={"id_number": number, "clinic": "HD002"}, headers=doctor)
    check("POST", who, 415, data="id_number=1", headers=doctor)
    check("POST", who, 422, json={"id_number": "123"}, headers=doctor)
    check("POST", who, 422, json={"id_number": number, "date": "yesterday"}, headers=doctor)

    check("GET", "/api/v1/catalog/items?q=amxl", 200, headers=doctor)
    check("GET", "/api/v1/catalog/items", 401)
    check("GET", "/api/v1/catalog/items?limit=0", 422, headers=doctor)

    # Every documented status of these endpoints was produced at least once.
    documented = {
        (method.upper(), path, int(status))
        for path, ops in client.get("/api/v1/openapi.json").json["paths"].items()
        if path.startswith(("/api/v1/visits", "/api/v1/residents", "/api/v1/catalog"))
        for method, op in ops.items()
        if method in ("get", "post")
        for status in op["responses"]
        if status != "default"
    }
    concrete = {
        (m, p.replace(f"/{vid}", "/{visit_id}").replace("999999", "{visit_id}"), s)
        for m, p, s in seen
    }
    assert documented - concrete == set()
