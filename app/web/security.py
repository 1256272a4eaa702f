"""Protections every response and request gets, whatever the page or endpoint.

Guarantees:

* every response carries a Content-Security-Policy with ``default-src 'self'``
  and ``frame-ancestors 'none'`` (no inline script or style is allowed; only the
  third-party API docs page, which ships its own inline bootstrap, is relaxed),
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
* every answer except static files is ``Cache-Control: no-store``: pages,
  exports and API answers carry money and personal data, and a shared clinic
  PC must not keep them in its cache;
* a JSON body nested deeper than ``MAX_JSON_DEPTH`` is refused with a 400
  naming the body, before any parser recurses into it (bodies are also
  capped by ``MAX_CONTENT_LENGTH``);
* when the database cannot be reached or times out, the answer is 503 with
  ``Retry-After`` (JSON for the API, a Chinese page otherwise), and the next
  request tries again on a fresh connection (``pool_pre_ping``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import BadRequest

from app.errors import ProblemCode
from app.extensions import db

CSP = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
# Swagger UI (flask-swagger-ui) bootstraps itself with an inline script.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in a JSON text, strings skipped.

    A linear scan that never recurses, so a hostile body of a million
    brackets costs a loop, not a RecursionError.
    """
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _is_static() -> bool:
    return bool(request.endpoint and request.endpoint.endswith("static"))


def _check_json_depth() -> None:
    if not request.is_json:
        return
    limit: int = current_app.config["MAX_JSON_DEPTH"]
    if json_depth(request.get_data(cache=True)) > limit:
        raise BadRequest(f"the JSON body is nested deeper than {limit} levels")


def _secure_headers(response: Response) -> Response:
    docs = request.path.startswith("/api/v1/docs")
    response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not _is_static():
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


def _database_unavailable(exc: Exception) -> Any:
    """The database is down, unreachable or too slow: say so, and when to retry."""
    db.session.rollback()
    retry = str(current_app.config["RETRY_AFTER_SECONDS"])
    current_app.logger.error("database unavailable: %s", type(exc).__name__)
    headers = {"Retry-After": retry}
    if request.path.startswith("/api/"):
        body = {
            "status": 503,
            "error": "ServiceUnavailable",
            "message": "the database is unavailable; retry later",
            "errors": {"_": ["the database is unavailable; retry later"]},
            "codes": {"_": ProblemCode.UNAVAILABLE},
        }
        return jsonify(body), 503, headers
    page = render_template(
        "error.html",
        status=503,
        explanation=_(
            "The system is busy or the database cannot be reached. Nothing was saved; "
            "please try again in a moment."
        ),
        message="",
    )
    return page, 503, headers


def _is_unavailable(exc: DBAPIError) -> bool:
    # Connection refused, dropped or timed out (psycopg: OperationalError;
    # statement_timeout: QueryCanceled, SQLSTATE 57014; lock_timeout: 55P03).
    if isinstance(exc, OperationalError):
        return True
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in ("57014", "55P03")


def init_security(app: Flask) -> None:
    app.before_request(_check_json_depth)
    app.after_request(_secure_headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _unavailable(exc: Exception) -> Any:
        return _database_unavailable(exc)

    @app.errorhandler(DBAPIError)
    def _dbapi_error(exc: DBAPIError) -> Any:
        if _is_unavailable(exc):
            return _database_unavailable(exc)
        if isinstance(exc, DataError):
            # A value the database cannot hold (a NUL in text, a number out of
            # its column's range) came from the request: bad input, not a fault.
            db.session.rollback()
            current_app.logger.warning("refused a value the database cannot hold")
            return app.handle_http_exception(
                BadRequest("a value in the request cannot be stored (control character?)")
            )
        raise exc
