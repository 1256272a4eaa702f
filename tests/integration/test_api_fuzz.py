"""Schemathesis over every API operation (issue 23, item 6): no server error, and every
answer — errors included — matches the OpenAPI document the app serves.

Bounded: a few generated requests per operation, each sent as the doctor and as
finance, on each database (PostgreSQL when ``TEST_DATABASE_URL`` names one).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import World

EXAMPLES = 6  # per operation: 25 operations x 6 x 2 users = 300 calls
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    negative_data_rejection,
]


def test_every_operation_answers_as_documented(app: Flask, world: World) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for user in ("doctor", "finance"):  # a clinic's scope and a district's
                case.call_and_validate(headers=world.auth(user), checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collected: every operation is tried
            failures.append(f"{operation.label}: {exc}"[:1500])
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
