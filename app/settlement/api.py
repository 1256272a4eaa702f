"""Settlement API (stub until built)."""

from flask_smorest import Blueprint

from app.auth.api_auth import authenticate_bearer

blp = Blueprint("settlement_api", __name__, url_prefix="", description="Monthly settlement")

blp.before_request(authenticate_bearer)
