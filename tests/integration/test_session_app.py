"""The session's app, switched under each test, is the app as made: nothing a test adds leaks.

tests/conftest.py builds one app per database kind and test session and
switches each test's database, clock and settings under it; what a test adds
(a ``before_request`` hook, a setting, an extension's key, rate-limit counts)
is gone for the next one, as it was with an app per test.
"""

from __future__ import annotations

import pytest
from flask import Flask, g
from sqlalchemy import text

from app.extensions import db
from tests.conftest import FixedClock, SessionApp
from tests.factories import World


def test_the_next_test_gets_the_app_as_made(
    app: Flask,
    world: World,
    clock: FixedClock,
    session_apps: dict[str, SessionApp],
    request: pytest.FixtureRequest,
) -> None:
    kind = request.node.callspec.params["database"]
    shared = session_apps[kind]
    assert shared.app is app
    seen: list[str] = []

    @app.before_request
    def _mark() -> None:
        g.marked = True
        seen.append("hook")

    app.config["PAGE_SIZE"] = 2
    assert app.test_client().get("/healthz").status_code == 200
    assert seen == ["hook"]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()

    # What the next test's app fixture does: the same app, switched.
    later = FixedClock(clock())
    again = shared.switch(url, later)
    assert again is app
    assert "PAGE_SIZE" not in app.config or app.config["PAGE_SIZE"] != 2
    assert app.config["CLOCK"] is later
    assert "tests.seeded_world" not in app.extensions
    assert app.test_client().get("/healthz").status_code == 200
    assert seen == ["hook"], "the hook of the earlier test ran again"
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM clinic")).scalar_one() == 3
        db.session.remove()
