"""One place that turns errors into answers.

Guarantees: every API error (a :class:`~app.errors.DomainError` from the
rules, a webargs/marshmallow validation error, any HTTP error) is a JSON body
of :class:`app.fields.ErrorSchema`, naming the failing field by dotted path;
every page error is the translated error page.  A 500 is always a bug.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from app.errors import DomainError, ProblemCode


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Any:
        if _wants_json():
            return jsonify(exc.as_dict()), exc.status
        from app.web.pages import render_error

        return render_error(exc.status, exc.message), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if _wants_json():
            return _http_error_json(exc)
        from app.web.pages import render_error

        return render_error(exc.code or 500, exc.description or exc.name), exc.code, _headers(exc)


def _headers(exc: HTTPException) -> dict[str, str]:
    """The error's own headers (``Allow`` on a 405, ``Retry-After`` …) but not its body type."""
    return {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}


def _http_error_json(exc: HTTPException) -> Any:
    """An HTTP error as the same JSON a :class:`DomainError` gives: fields by dotted path."""
    body: dict[str, Any] = {"status": exc.code, "error": exc.name, "message": exc.description}
    headers = _headers(exc)
    data = getattr(exc, "data", None)  # webargs / smorest: {"messages": {location: …}}
    errors: dict[str, list[str]] = {}
    if data and "messages" in data:
        errors = field_errors(data["messages"])
        if "message" in data:
            body["message"] = data["message"]
        elif errors:
            body["message"] = "; ".join(f"{f}: {m[0]}" for f, m in errors.items() if m)
    elif exc.code == 401:
        errors = {"Authorization": [exc.description or "a bearer token is required"]}
        headers["WWW-Authenticate"] = "Bearer"
    if errors:
        body["errors"] = errors
        body["codes"] = dict.fromkeys(errors, ProblemCode.BAD_SHAPE)
    return jsonify(body), exc.code, headers


def field_errors(messages: Any) -> dict[str, list[str]]:
    """Flatten webargs/marshmallow messages to ``{"lines[0].quantity": [...]}``.

    The top level is the request location (json, query, headers …) and is
    dropped, so a field is named the way :class:`app.errors.Problem` names it;
    errors about the whole body (``_schema``, invalid JSON) are named ``body``.
    """
    out: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                    walk(value, f"{path}[{key}]")
                elif key == "_schema":
                    walk(value, path)
                else:
                    walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list | tuple):
            for item in node:
                if isinstance(item, dict | list | tuple):
                    walk(item, path)
                else:
                    out.setdefault(path or "body", []).append(str(item))
        else:
            out.setdefault(path or "body", []).append(str(node))

    if isinstance(messages, dict):
        for value in messages.values():  # one entry per location
            walk(value, "")
    else:
        walk(messages, "")
    return out
