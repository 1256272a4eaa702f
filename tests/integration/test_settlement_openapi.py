"""The settlement API answers exactly what its own OpenAPI document says.

Every settlement endpoint is called for real — a success and the errors a
client meets (no token, outside scope, unknown clinic, illegal step, bad month,
bad body) — and each answer is validated by openapi-core against the document
the app serves at ``/api/v1/openapi.json``: status documented, body of the
documented shape (error bodies included), content type as documented.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Request
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.flask import FlaskOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder

from app.visits.models import Visit
from tests.factories import World
from tests.integration.test_settlement import SEPT, advance, pay_body, september, world

__all__ = ["september", "world"]  # fixtures shared with test_settlement

STATEMENT = f"/api/v1/statements/HD001/{SEPT}"
SUMMARY = f"/api/v1/districts/440114/summaries/{SEPT}"


class Checker:
    """Calls the API and validates every answer against the app's OpenAPI document."""

    def __init__(self, client: FlaskClient, world: World) -> None:
        self.client = client
        self.world = world
        self.openapi = OpenAPI.from_dict(client.get("/api/v1/openapi.json").get_json())
        self.seen: set[tuple[str, str, int]] = set()

    def call(self, method: str, url: str, who: str | None, status: int, body: Any = None) -> Any:
        headers = self.world.auth(who) if who else {}
        json = None if method == "GET" else body or {}
        response = self.client.open(url, method=method, json=json, headers=headers)
        assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
        # The request again, unread (the app consumed the first one's body).
        sent = EnvironBuilder(url, method=method, headers=headers, json=json).get_environ()
        self.openapi.validate_response(self._request(sent), WerkzeugOpenAPIResponse(response))
        self.seen.add((method, _template(url), status))
        return response

    def _request(self, environ: dict[str, Any]) -> FlaskOpenAPIRequest:
        # The Flask rule names the operation: ``…/{month}`` would also match ``….pdf``.
        request = Request(environ)
        adapter = self.client.application.url_map.bind_to_environ(environ)
        request.url_rule, request.view_args = adapter.match(return_rule=True)
        return FlaskOpenAPIRequest(request)


def _template(url: str) -> str:
    """The documented path of a concrete URL (clinic, district and month made generic)."""
    parts = url.split("/")
    if parts[3] == "statements":
        parts[4] = "{clinic}"
        parts[5] = "{month}" + parts[5][7:]
    else:
        parts[4] = "{code}"
        parts[6] = "{month}" + parts[6][7:]
    return "/".join(parts)


ENDPOINTS = [
    ("GET", STATEMENT),
    ("POST", f"{STATEMENT}/submit"),
    ("POST", f"{STATEMENT}/review"),
    ("POST", f"{STATEMENT}/return"),
    ("POST", f"{STATEMENT}/pay"),
    ("GET", f"{STATEMENT}.pdf"),
    ("GET", f"{STATEMENT}.csv"),
    ("GET", f"{STATEMENT}.xlsx"),
    ("GET", f"{STATEMENT}/visits.csv"),
    ("GET", SUMMARY),
    ("POST", f"{SUMMARY}/pay"),
    ("GET", f"{SUMMARY}.pdf"),
    ("GET", f"{SUMMARY}.csv"),
    ("GET", f"{SUMMARY}.xlsx"),
    ("GET", f"{SUMMARY}/visits.csv"),
]


def _elsewhere(url: str, month: str) -> str:
    return url.replace(SEPT, month, 1)


@pytest.fixture
def checker(client: FlaskClient, world: World) -> Checker:
    return Checker(client, world)


def test_every_endpoint_documents_its_success_and_errors(checker: Checker) -> None:
    paths = checker.openapi.spec / "paths"
    for method, url in ENDPOINTS:
        with (paths / _template(url) / method.lower()).open() as operation:
            responses = operation["responses"]
            assert "200" in responses, url
            for code in ("401", "403", "404", "422"):
                assert code in responses, (url, code)
            if method == "POST":
                assert "409" in responses, url
            success = next(iter(responses["200"]["content"].values()))["schema"]
            assert success, url  # a shape, not an empty schema


def test_success_answers_match_the_document(
    checker: Checker, september: list[Visit], world: World
) -> None:
    for method, url in ENDPOINTS:
        if method == "GET":
            checker.call(method, url, "finance", 200)
    checker.call("POST", f"{STATEMENT}/submit", "doctor", 200)
    checker.call("POST", f"{STATEMENT}/return", "reviewer", 200, {"reason": "check 9-21"})
    checker.call("POST", f"{STATEMENT}/submit", "doctor", 200)
    checker.call("POST", f"{STATEMENT}/review", "reviewer", 200, {"reason": "ok"})
    paid = checker.call("POST", f"{STATEMENT}/pay", "finance", 200, pay_body("11.10"))
    assert paid.get_json()["payment"]["amount"] == "11.10"
    checker.call("GET", STATEMENT, "doctor", 200)  # history with every step, payment set
    checker.call("GET", SUMMARY, "town_reviewer", 200)  # a town: ``town`` is a code
    advance(checker.client, world, "reviewed", clinic="HD002")
    batch = {"paid_on": "2026-10-15", "reference": "BATCH-09", "count": 1, "amount": "0.00"}
    checker.call("POST", f"{SUMMARY}/pay", "finance", 200, batch)
    assert {(m, p) for m, p, s in checker.seen if s == 200} == {
        (m, _template(u)) for m, u in ENDPOINTS
    }


def _actor_and_body(method: str, url: str) -> tuple[str, dict[str, Any]]:
    """Who may call ``url``, and a body of the right shape."""
    if url.startswith(SUMMARY):
        batch = {"paid_on": "2026-10-15", "reference": "B", "count": 1, "amount": "1.00"}
        return "finance", batch if method == "POST" else {}
    action = url.rsplit("/", 1)[-1] if method == "POST" else "get"
    actor = {"submit": "doctor", "review": "reviewer", "return": "reviewer"}.get(action, "finance")
    return actor, pay_body("11.10") if action == "pay" else {"reason": "x"}


def test_error_answers_match_the_document(checker: Checker, september: list[Visit]) -> None:
    for method, url in ENDPOINTS:
        actor, body = _actor_and_body(method, url)
        checker.call(method, url, None, 401, body)
        bad_month = checker.call(method, _elsewhere(url, "2026-13"), actor, 422, body)
        assert list(bad_month.get_json()["errors"]) == ["month"]
        # Another clinic's doctor, or a doctor asking for a district's summary.
        checker.call(method, url, "doctor2" if url.startswith(STATEMENT) else "doctor", 403, body)
        missing = url.replace("HD001", "NOPE").replace("440114", "999999")
        # Paying a whole district checks the user's district before looking it up.
        checker.call(method, missing, actor, 403 if url == f"{SUMMARY}/pay" else 404, body)
        if method == "POST":
            # Nothing is submitted or reviewed yet, so every step but submitting is
            # illegal now; and the running month cannot be submitted before it ends.
            target = _elsewhere(url, "2026-10") if url.endswith("/submit") else url
            checker.call(method, target, actor, 409, body)
            if not url.endswith("/submit"):
                checker.call(method, url, actor, 422, {**body, "unexpected": 1})
    errors = {(m, p) for m, p, s in checker.seen if s >= 400}
    assert errors == {(m, _template(u)) for m, u in ENDPOINTS}


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "1999-12", "2100-01", "26-09", "2026-9", "２０２６-09"]
)
def test_a_bad_month_in_the_path_is_a_422_naming_month(checker: Checker, month: str) -> None:
    response = checker.call("GET", _elsewhere(STATEMENT, month), "doctor", 422)
    error = response.get_json()
    assert list(error["errors"]) == ["month"] and error["codes"] == {"month": "invalid"}
    assert "2000-01" in error["errors"]["month"][0]


def test_the_month_edges_are_accepted(checker: Checker) -> None:
    for month in ("2000-01", "2099-12"):
        checker.call("GET", _elsewhere(STATEMENT, month), "doctor", 200)
