"""Visit API (stub until built)."""

from flask_smorest import Blueprint

from app.auth.api_auth import authenticate_bearer

blp = Blueprint("visits_api", __name__, url_prefix="/visits", description="Visits")
residents_blp = Blueprint(
    "residents_api", __name__, url_prefix="/residents", description="Residents"
)

blp.before_request(authenticate_bearer)
residents_blp.before_request(authenticate_bearer)
