"""API documentation: the page served from the app itself (no CDN; Swagger UI's
assets come from the flask-swagger-ui package and read ``/api/v1/openapi.json``),
and the one way an endpoint documents its error answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_smorest import Blueprint
from flask_swagger_ui import get_swaggerui_blueprint

from app.fields import ErrorSchema


def register_api_docs(app: Flask) -> None:
    docs = get_swaggerui_blueprint(
        "/api/v1/docs",
        "/api/v1/openapi.json",
        config={"app_name": "One-yuan clinic billing API"},
        blueprint_name="swagger_ui_local",
    )
    app.register_blueprint(docs)


def error_answers(blp: Blueprint, descriptions: dict[int, str]) -> Callable[..., Any]:
    """``errors(401, 404, …)``: document an endpoint's error answers on ``blp``.

    Every error answer has the one published shape (:class:`ErrorSchema`); each
    area names what its codes mean in ``descriptions``.
    """

    def errors(*codes: int) -> Callable[[Any], Any]:
        def decorate(view: Any) -> Any:
            for code in reversed(codes):
                view = blp.alt_response(code, schema=ErrorSchema, description=descriptions[code])(
                    view
                )
            return view

        return decorate

    return errors
