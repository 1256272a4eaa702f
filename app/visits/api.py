"""Visit API (stub until built)."""

from flask_smorest import Blueprint

blp = Blueprint("visits_api", __name__, url_prefix="/visits", description="Visits")
residents_blp = Blueprint("residents_api", __name__, url_prefix="/residents", description="Residents")
