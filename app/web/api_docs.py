"""API documentation page served from the app itself (no CDN): Swagger UI's
assets come from the flask-swagger-ui package and read ``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Flask
from flask_swagger_ui import get_swaggerui_blueprint


def register_api_docs(app: Flask) -> None:
    docs = get_swaggerui_blueprint(
        "/api/v1/docs",
        "/api/v1/openapi.json",
        config={"app_name": "One-yuan clinic billing API"},
        blueprint_name="swagger_ui_local",
    )
    app.register_blueprint(docs)
