"""Settlement API (stub until built)."""

from flask_smorest import Blueprint

blp = Blueprint("settlement_api", __name__, url_prefix="", description="Monthly settlement")
