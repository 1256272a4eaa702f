"""The web shell: login, logout, the language switch and the home page by role."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.auth.models import User
from app.auth.operations import user_for_password
from app.extensions import db, login_manager

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")

login_manager.login_view = "web.login"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    return redirect(url_for("web.login", next=request.full_path))


def render_error(status: int, message: str) -> str:
    return render_template("error.html", status=status, message=message)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None  # never redirect off-site
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        user = user_for_password(username, request.form.get("password", ""))
        if user is None:
            error = _("Wrong username or password.")
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("web.home"))
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    flash(_("You have logged out."))
    return redirect(url_for("web.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str) -> Response:
    if code in ("zh", "en"):
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")) or url_for("web.home"))


@bp.route("/")
@login_required
def home() -> Response:
    user: User = current_user  # type: ignore[assignment]
    if user.role == "doctor":
        return redirect(url_for("visits.new_visit"))
    if user.role == "finance":
        return redirect(url_for("settlement.finance"))
    return redirect(url_for("settlement.board"))
