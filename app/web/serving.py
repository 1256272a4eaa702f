"""How the app is served: static files, compression and the proxy in front.

Guarantees:

* every static file a page links (``url_for('<area>.static', filename=…)``) gets a
  content-hashed URL (``app.css`` → ``app.3f2a9c1b7d4e.css``) served by WhiteNoise
  with ``Cache-Control: public, max-age=31536000, immutable``: browsers keep it a
  year without asking again, and a changed file gets a new name, so a new
  version is fetched on the next page — never a stale one;
* those files are compressed once, at build time (gzip, and brotli when the
  ``brotli`` package is there), and sent compressed to clients that accept it;
  they carry the same security headers as every other answer;
* HTML, JSON, CSS, JavaScript, SVG and CSV answers of the app itself are
  compressed (Flask-Compress) for clients that accept it;
* with ``PROXY_COUNT=n`` the app trusts exactly ``n`` proxies' ``X-Forwarded-*``
  headers (client address for login throttling, scheme and host for URLs);
  with 0 (the default) it trusts none;
* ``/favicon.ico`` answers (a redirect to the icon) so no page's favicon request
  is a 404.

The hashed copies live in ``STATIC_BUILD_DIR`` (``instance/assets`` by default),
named by content, so old and new versions never clash and several workers
starting at once build the same files under a file lock.  In debug mode
(``make dev``) none of this is used: Flask serves the files as they are edited.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, redirect, url_for
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response
from whitenoise import WhiteNoise

from app.web.security import CSP

try:  # brotli is optional: without it only gzip copies are made
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

ONE_YEAR = 365 * 24 * 60 * 60
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}(\.[A-Za-z0-9]+)?$")
# Already compressed formats gain nothing from another pass.
COMPRESSIBLE = {".css", ".js", ".svg", ".json", ".txt", ".html", ".map", ".ico", ".xml"}
COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
]

compress = Compress()


def init_serving(app: Flask) -> None:
    """Call last in the factory, once every blueprint (and its static folder) is registered."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESS_MIMETYPES)
    compress.init_app(app)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    if app.config["STATIC_HASHED"] and not app.debug:
        _serve_hashed_static(app)
    proxies: int = app.config["PROXY_COUNT"]
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )


def _favicon() -> Response:
    # Browsers and PDF viewers ask for /favicon.ico whatever the page links.
    # 302, not 301: a permanent redirect would pin browsers to one hashed version.
    return redirect(url_for("web.static", filename="favicon.svg"), code=302)


# --- content-hashed static files ---------------------------------------------------------


def static_roots(app: Flask) -> Iterator[tuple[str, str, Path]]:
    """(endpoint, URL prefix, folder) of every static route the app has."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and not rule.endpoint.endswith(".static"):
            continue
        owner: Any = app if rule.endpoint == "static" else app.blueprints.get(rule.endpoint[:-7])
        if owner is None or not owner.has_static_folder:
            continue
        prefix = rule.rule.split("<", 1)[0]
        yield rule.endpoint, prefix, Path(owner.static_folder)


def hashed_name(name: str, digest: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}" if dot and stem else f"{name}.{digest}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _write_atomically(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, target)


def _build_file(source: Path, target: Path) -> None:
    """Copy ``source`` to its hashed name, with .gz (and .br) beside it, unless done before."""
    if target.exists():
        return  # named by content: an existing file is this very version
    target.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    if source.suffix.lower() in COMPRESSIBLE:
        _write_atomically(target.with_name(target.name + ".gz"), gzip.compress(data, 9, mtime=0))
        if brotli is not None:
            _write_atomically(target.with_name(target.name + ".br"), brotli.compress(data))
    # The plain file last: its presence means the compressed ones are there too.
    _write_atomically(target, data)


def build_static(app: Flask, build_dir: Path) -> dict[str, dict[str, str]]:
    """Hashed copies of every static file under ``build_dir``; {endpoint: {name: hashed}}."""
    manifest: dict[str, dict[str, str]] = {}
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:
        # Workers start together; one builds, the others then find the files there.
        fcntl.flock(lock, fcntl.LOCK_EX)
        for endpoint, prefix, folder in static_roots(app):
            names = manifest.setdefault(endpoint, {})
            for source in sorted(p for p in folder.rglob("*") if p.is_file()):
                name = source.relative_to(folder).as_posix()
                hashed = hashed_name(name, _digest(source))
                _build_file(source, build_dir / prefix.strip("/") / hashed)
                names[name] = hashed
    return manifest


def _serve_hashed_static(app: Flask) -> None:
    build_dir = Path(app.config["STATIC_BUILD_DIR"])
    manifest = build_static(app, build_dir)

    @app.url_defaults
    def _hashed_url(endpoint: str, values: dict[str, Any]) -> None:
        names = manifest.get(endpoint)
        if names is not None and values.get("filename") in names:
            values["filename"] = names[values["filename"]]

    def _headers(headers: Any, path: str, url: str) -> None:
        headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
        headers["Content-Security-Policy"] = CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"

    static = WhiteNoise(
        app.wsgi_app,
        max_age=ONE_YEAR,
        allow_all_origins=False,  # nothing here is meant for other sites
        add_headers_function=_headers,
        # Only hashed names are in the build: anything else falls through to Flask.
        immutable_file_test=lambda path, url: bool(HASHED_NAME.search(url)),
    )
    for _endpoint, prefix, _folder in static_roots(app):
        root = build_dir / prefix.strip("/")
        if root.is_dir():
            static.add_files(str(root), prefix=prefix)
    app.wsgi_app = static  # type: ignore[method-assign]
