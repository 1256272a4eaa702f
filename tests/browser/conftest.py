"""Browser fixtures: the app on a migrated SQLite database, served on 127.0.0.1, and
Debian's Chromium driven by Playwright.

* ``live_server`` copies the SQLite template that already holds the factory
  world (``sqlite_templates``), and serves the app with werkzeug's server on a
  free port (port 0: the system picks one, so xdist workers never clash) in a
  thread.  Its clock starts at 2026-10-15 10:00 in
  Shanghai and runs at real speed, so every visit of a test falls on the same
  open day whatever the date the tests run.
* Without ``/usr/bin/chromium`` every browser test is skipped, with the reason
  printed (``.ci/run`` installs Chromium and allows no skip).
* ``page`` records every URL the browser asks for and refuses any that is not
  the live server's: a test can assert that nothing left 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.extensions import db
from app.factory import create_app
from tests.conftest import Templates
from tests.factories import World

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
START = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


class RunningClock:
    """Starts at a fixed moment and then runs at real speed."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        self.began = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.began)

    def set(self, moment: dt.datetime) -> None:
        """Jump to ``moment`` (a later day of the journey) and run on from there."""
        self.start, self.began = moment, time.monotonic()


def pytest_configure(config: pytest.Config) -> None:
    # Werkzeug's threaded dev server, which these tests drive, can leave a static
    # asset's file (WhiteNoise's compressed copy) to the garbage collector when the
    # browser drops the connection mid-transfer; the warning is the test server's,
    # not the app's (gunicorn closes the response). Narrow: static asset files only.
    for line in (
        r"ignore:unclosed file <_io\.BufferedReader name='[^']*/assets/static/:ResourceWarning",
        r"ignore:Exception ignored in. <_io\.FileIO name='[^']*/assets/static/"
        ":pytest.PytestUnraisableExceptionWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


@dataclass
class LiveServer:
    url: str
    app: Flask
    world: World
    clock: RunningClock

    def __post_init__(self) -> None:
        self.host = self.url.split("//", 1)[1]


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        print(f"\nSKIP: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def live_server(
    chromium_path: Path, sqlite_templates: Templates, tmp_path: Path
) -> Iterator[LiveServer]:
    path = tmp_path / "browser.sqlite3"
    shutil.copyfile(sqlite_templates.world, path)
    clock = RunningClock(START)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "browser-tests",
            "CLOCK": clock,
        }
    )
    with app.app_context():
        world = sqlite_templates.seeded.load()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, world, clock)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Traffic:
    """Every URL the page asked for; the ones outside the live server were refused."""

    local_prefix: str
    urls: list[str] = field(default_factory=list)

    @property
    def outside(self) -> list[str]:
        return [
            u
            for u in self.urls
            if not (u.startswith(self.local_prefix + "/") or u == self.local_prefix)
            and not u.startswith(("data:", "blob:", "about:"))
        ]


@pytest.fixture
def traffic(live_server: LiveServer) -> Traffic:
    return Traffic(live_server.url)


@pytest.fixture
def page(browser: Any, live_server: LiveServer, traffic: Traffic) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1024, "height": 768}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )

    def guard(route: Any) -> None:
        url = route.request.url
        traffic.urls.append(url)
        if url.startswith(live_server.url + "/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", guard)
    context.on("request", lambda request: traffic.urls.append(request.url))
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


def login(page: Any, server: LiveServer, username: str = "doctor") -> None:
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", "secret-pass")
    page.press("#password", "Enter")
    page.wait_for_url("**/visits/new")


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """What the doctor sees at 1024×768 (or the whole page, as long as it is)."""
    target = screenshot_path(name)
    page.screenshot(path=str(target), full_page=full_page)
    return target
