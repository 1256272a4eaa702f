"""Clinic terminal pages (stub until built)."""

from flask import Blueprint

bp = Blueprint("visits", __name__, template_folder="templates")


@bp.route("/visits/new")
def new_visit() -> str:
    return "new visit"


@bp.route("/visits/today")
def today() -> str:
    return "today"
