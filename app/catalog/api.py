"""Catalogue API (stub until built)."""

from flask_smorest import Blueprint

blp = Blueprint("catalog_api", __name__, url_prefix="/catalog", description="Catalogue")
