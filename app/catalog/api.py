"""Catalogue API (stub until built)."""

from flask_smorest import Blueprint

from app.auth.api_auth import authenticate_bearer

blp = Blueprint("catalog_api", __name__, url_prefix="/catalog", description="Catalogue")

blp.before_request(authenticate_bearer)
