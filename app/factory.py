"""The application factory: :func:`create_app` builds the app from settings."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from app.clock import utc_now
from app.config import ROOT, engine_options, settings_from_env
from app.extensions import babel, csrf, db, limiter, login_manager, migrate
from app.fields import ErrorSchema
from app.web.errors import register_error_handlers
from app.web.requestlog import init_request_log
from app.web.security import init_security
from app.web.serving import init_serving


class _Api(Api):
    # Every documented error response uses the body the handlers really send.
    ERROR_SCHEMA = ErrorSchema


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings_from_env())
    if overrides:
        app.config.update(overrides)
    app.config.setdefault("CLOCK", utc_now)
    # Timeouts depend on the database actually used (overrides may change it).
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    )
    (ROOT / "instance").mkdir(exist_ok=True)

    from app import models  # noqa: F401  (every model registered before migrate)
    from app.database import configure_engine

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    init_security(app)
    init_request_log(app)
    _init_babel(app)
    with app.app_context():
        configure_engine(db.engine)

    _wire_visits(app)
    _register_api(app)
    _register_pages(app)
    _register_cli(app)
    register_error_handlers(app)
    init_serving(app)  # last: it serves the static folders registered above
    return app


def _init_babel(app: Flask) -> None:
    from app.web.i18n import select_locale, translation_directories

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", translation_directories())
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Shanghai")


def _wire_visits(app: Flask) -> None:
    """The oversight's screen and receipt codes, which the visits use but may not import."""
    from app.oversight.checks import screen
    from app.oversight.operations import receipt_code_for
    from app.visits.hooks import VisitHooks, install

    install(app, VisitHooks(screen=screen, receipt_code=receipt_code_for))


def _register_api(app: Flask) -> None:
    from app.catalog.api import blp as catalog_blp
    from app.oversight.api import blp as verify_blp
    from app.settlement.api import blp as settlement_blp
    from app.stock.api import blp as stock_blp
    from app.visits.api import blp as visits_blp
    from app.visits.api import residents_blp
    from app.web.api_docs import register_api_docs

    api = _Api(app)  # one per app: the OpenAPI spec belongs to the app
    for blp in (visits_blp, residents_blp, catalog_blp, settlement_blp, stock_blp, verify_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]
    register_api_docs(app)


def _register_pages(app: Flask) -> None:
    from app.insurance.pages import bp as insurance_pages
    from app.oversight.pages import bp as verify_pages
    from app.oversight.pages import review_bp as oversight_pages
    from app.reconcile.pages import bp as reconcile_pages
    from app.settlement.pages import bp as settlement_pages
    from app.stock.pages import bp as stock_pages
    from app.visits.pages import bp as visit_pages
    from app.web.health import bp as health
    from app.web.pages import bp as web_pages

    app.register_blueprint(health)
    app.register_blueprint(web_pages)
    app.register_blueprint(visit_pages)
    app.register_blueprint(settlement_pages)
    app.register_blueprint(reconcile_pages)
    app.register_blueprint(verify_pages)
    app.register_blueprint(oversight_pages)
    app.register_blueprint(stock_pages)
    app.register_blueprint(insurance_pages)


def _register_cli(app: Flask) -> None:
    from app.auth.cli import users_cli
    from app.demo.cli import demo_cli
    from app.imports.cli import import_data
    from app.integrity.cli import audit_cli
    from app.oversight.cli import oversight_cli
    from app.publishing.cli import policy_cli
    from app.reconcile.cli import reconcile_cli
    from app.settlement.cli import statements_cli
    from app.visits.maintenance import visits_cli
    from app.visits.settling import insurance_cli

    commands = (
        users_cli,
        demo_cli,
        import_data,
        policy_cli,
        statements_cli,
        visits_cli,
        reconcile_cli,
        audit_cli,
        oversight_cli,
        insurance_cli,
    )
    for command in commands:
        app.cli.add_command(command)
    # Backups belong with the other database commands of Flask-Migrate's group.
    from flask_migrate.cli import db as db_group

    from app.maintenance.cli import backup_command, restore_command

    db_group.add_command(backup_command)
    db_group.add_command(restore_command)
