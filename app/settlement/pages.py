"""Settlement pages (stub until built)."""

from flask import Blueprint

bp = Blueprint("settlement", __name__, template_folder="templates")


@bp.route("/statements")
def months() -> str:
    return "months"


@bp.route("/board")
def board() -> str:
    return "board"


@bp.route("/finance")
def finance() -> str:
    return "finance"
