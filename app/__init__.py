"""The one-yuan clinic billing application: :func:`create_app` builds it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.config import ROOT, settings_from_env
from app.errors import DomainError
from app.extensions import babel, csrf, db, login_manager, migrate


def utc_now() -> dt.datetime:
    """The clock the web and CLI layers hand to operations."""
    return dt.datetime.now(dt.UTC)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings_from_env())
    if overrides:
        app.config.update(overrides)
    app.config.setdefault("CLOCK", utc_now)
    (ROOT / "instance").mkdir(exist_ok=True)

    from app import models  # noqa: F401  (every model registered before migrate)
    from app.database import configure_engine

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    _init_babel(app)
    with app.app_context():
        configure_engine(db.engine)

    _register_api(app)
    _register_pages(app)
    _register_cli(app)
    _register_error_handlers(app)
    return app


def clock(app: Flask | None = None) -> Callable[[], dt.datetime]:
    from flask import current_app

    result: Callable[[], dt.datetime] = (app or current_app).config["CLOCK"]
    return result


def _init_babel(app: Flask) -> None:
    from app.web.i18n import select_locale, translation_directories

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", translation_directories())
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Shanghai")


def _register_api(app: Flask) -> None:
    from app.catalog.api import blp as catalog_blp
    from app.settlement.api import blp as settlement_blp
    from app.visits.api import blp as visits_blp
    from app.visits.api import residents_blp
    from app.web.api_docs import register_api_docs

    api = Api(app)  # one per app: the OpenAPI spec belongs to the app
    for blp in (visits_blp, residents_blp, catalog_blp, settlement_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]
    register_api_docs(app)


def _register_pages(app: Flask) -> None:
    from app.settlement.pages import bp as settlement_pages
    from app.visits.pages import bp as visit_pages
    from app.web.pages import bp as web_pages

    app.register_blueprint(web_pages)
    app.register_blueprint(visit_pages)
    app.register_blueprint(settlement_pages)


def _register_cli(app: Flask) -> None:
    from app.auth.cli import users_cli
    from app.demo.cli import demo_cli
    from app.imports.cli import import_data
    from app.policy.cli import policy_cli
    from app.settlement.cli import statements_cli

    for command in (users_cli, demo_cli, import_data, policy_cli, statements_cli):
        app.cli.add_command(command)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_error_handlers(app: Flask) -> None:
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

        return render_error(exc.code or 500, exc.description or exc.name), exc.code


def _http_error_json(exc: HTTPException) -> Any:
    """An HTTP error as the same JSON a :class:`DomainError` gives: fields by dotted path."""
    body: dict[str, Any] = {"status": exc.code, "error": exc.name, "message": exc.description}
    headers: dict[str, str] = {}
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
        body["codes"] = dict.fromkeys(errors, "invalid")
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
