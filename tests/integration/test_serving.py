"""Production serving: the real gunicorn server, probes, static caching, compression.

The first test starts gunicorn with ``gunicorn.conf.py`` (as ``make run`` does) in a
subprocess on a free port against a migrated SQLite database, and talks HTTP to
it; it is bounded in time and the whole process group is killed at the end.
The probe tests run on both databases through the test client.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app.extensions import db
from app.factory import create_app
from app.web.serving import build_static

ROOT = Path(__file__).resolve().parents[2]
STARTUP = 90  # seconds gunicorn may take to answer /healthz (a loaded machine: 30 s was not enough)
HASHED_CSS = re.compile(r'href="(/static/web/app\.[0-9a-f]{12}\.css)"')
HASHED_ICON = re.compile(r'rel="icon"[^>]*href="(/static/web/favicon\.[0-9a-f]{12}\.svg)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.raw = response.read()

    @property
    def body(self) -> bytes:
        encoding = self.headers.get("content-encoding")
        if encoding == "gzip":
            return gzip.decompress(self.raw)
        if encoding == "br":
            return bytes(brotli.decompress(self.raw))
        assert encoding is None, encoding
        return self.raw


class Gunicorn:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.process, self.log = port, process, log

    def get(self, path: str, encoding: str | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            # http.client sends no Accept-Encoding unless told: "identity" is explicit.
            headers = {"Accept-Encoding": encoding or "identity"}
            connection.request("GET", path, headers=headers)
            return Answer(connection.getresponse())
        finally:
            connection.close()


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path) -> Iterator[Gunicorn]:
    database = tmp_path / "served.sqlite3"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "serving-test",
        "STATIC_BUILD_DIR": str(tmp_path / "assets"),  # a fresh build, compressed here
        "WEB_CONCURRENCY": "2",
        "THREADS": "2",
        "PORT": str(port),
    }
    env.pop("FLASK_DEBUG", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    served = Gunicorn(port, process, log)
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            try:
                if served.get("/healthz").status == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, "gunicorn exited: " + log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no answer: " + log.read_text()[-2000:]
            time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def test_gunicorn_serves_probes_compressed_pages_and_cached_static_files(
    server: Gunicorn, tmp_path: Path
) -> None:
    log = server.log.read_text()
    assert "Using worker: gthread" in log
    assert log.count("Booting worker") == 2  # WEB_CONCURRENCY

    health = server.get("/healthz")
    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    ready = server.get("/readyz")
    assert ready.status == 200 and json.loads(ready.body)["status"] == "ready"

    # An HTML page, compressed for a client that accepts gzip; never cached.
    page = server.get("/login", "gzip")
    assert page.status == 200 and page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "no-store"
    assert "accept-encoding" in page.headers["vary"].lower()
    html = page.body.decode()
    css_match, icon_match = HASHED_CSS.search(html), HASHED_ICON.search(html)
    assert css_match and icon_match, html[:600]
    css_url = css_match.group(1)

    # The linked stylesheet: content-hashed name, a year immutable, pre-compressed.
    source = (ROOT / "app/web/static/app.css").read_bytes()
    for encoding in ("gzip", "br", None):
        static = server.get(css_url, encoding)
        assert static.status == 200
        assert static.headers.get("content-encoding") == encoding
        assert static.body == source
        cache = static.headers["cache-control"]
        assert "max-age=31536000" in cache and "immutable" in cache and "public" in cache
        assert static.headers["x-content-type-options"] == "nosniff"
        assert static.headers["content-type"].startswith("text/css")
    assert len(server.get(css_url, "gzip").raw) < len(source) / 2

    # JSON compressed too.
    spec = server.get("/api/v1/openapi.json", "gzip")
    assert spec.status == 200 and spec.headers["content-encoding"] == "gzip"
    assert json.loads(spec.body)["info"]["title"]

    # No favicon 404: the linked icon and the /favicon.ico browsers ask for anyway.
    icon = server.get(icon_match.group(1))
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    legacy = server.get("/favicon.ico")
    assert legacy.status == 302 and legacy.headers["location"].endswith(icon_match.group(1))

    # The schema falls behind (here: no version at all): not ready, still alive.
    database = tmp_path / "served.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("DROP TABLE alembic_version")
    connection.close()
    behind = server.get("/readyz")
    assert behind.status == 503
    assert json.loads(behind.body) == {
        "status": "unavailable",
        "reason": "migrations not at head",
        "database": [],
        "expected": json.loads(ready.body)["revision"],
    }
    assert server.get("/healthz").status == 200


# --- the probes on both databases ----------------------------------------------------------


def test_readyz_is_ready_at_head_and_503_otherwise(app: Flask, client: FlaskClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json is not None
    head = ready.json["revision"]
    assert ready.json == {"status": "ready", "revision": head} and len(head) == 1

    db.session.execute(text("UPDATE alembic_version SET version_num = 'not_a_revision'"))
    db.session.commit()
    behind = client.get("/readyz")
    assert behind.status_code == 503 and behind.json is not None
    assert behind.json["reason"] == "migrations not at head"
    assert behind.json["database"] == ["not_a_revision"] and behind.json["expected"] == head

    db.session.execute(text("DROP TABLE alembic_version"))
    db.session.commit()
    bare = client.get("/readyz")
    assert bare.status_code == 503 and bare.json is not None and bare.json["database"] == []
    assert client.get("/healthz").status_code == 200


def test_readyz_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{missing}", "TESTING": True})
    with app.app_context():
        answer = app.test_client().get("/readyz")
        health = app.test_client().get("/healthz")
        db.engine.dispose()
    assert answer.status_code == 503
    assert answer.json == {"status": "unavailable", "reason": "database unreachable"}
    assert str(tmp_path) not in answer.get_data(as_text=True)
    assert health.status_code == 200


def test_probes_need_no_login_and_are_never_cached(client: FlaskClient) -> None:
    for path in ("/healthz", "/readyz"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.is_json
        assert answer.headers["Cache-Control"] == "no-store"


# --- content-hashed names ------------------------------------------------------------------


def test_a_changed_static_file_gets_a_new_name(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "site.css").write_text("body { color: black }\n" * 50)
    app = Flask("hashing", static_folder=str(folder))
    built = tmp_path / "built"

    first = build_static(app, built)["static"]["site.css"]
    assert build_static(app, built)["static"]["site.css"] == first  # stable
    (folder / "site.css").write_text("body { color: navy }\n" * 50)
    second = build_static(app, built)["static"]["site.css"]

    assert first != second and re.fullmatch(r"site\.[0-9a-f]{12}\.css", second)
    for name in (first, second):  # a page still open on the old version keeps working
        assert (built / "static" / name).exists()
        assert (
            gzip.decompress((built / "static" / f"{name}.gz").read_bytes())
            == (built / "static" / name).read_bytes()
        )
        assert (built / "static" / f"{name}.br").exists()


def test_debug_server_serves_static_files_as_edited(tmp_path: Path) -> None:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": True}
    )
    with app.test_request_context():
        from flask import url_for

        assert url_for("web.static", filename="app.css") == "/static/web/app.css"
