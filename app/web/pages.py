"""The web shell: login, logout, the language switch, the home page by role, errors.

Guarantees:

* a failed login says only that the username *or* the password is wrong —
  never which — and keeps the typed username;
* every form carries a CSRF token (Flask-WTF's CSRFProtect is on for every
  page); an expired or missing token is answered with a page (or JSON for the
  terminal's scripts) that says what to do, in the user's language;
* redirects after login and after a language switch never leave the site;
* the template filters ``yuan`` (¥ and two decimals, :func:`app.money.format_yuan`)
  and ``shanghai`` (Asia/Shanghai time) are the one way pages show money and times.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from app.auth.models import User
from app.auth.operations import (
    SessionLimits,
    end_login_session,
    record_failed_login,
    resume_login_session,
    start_login_session,
    user_for_password,
)
from app.clock import clock
from app.extensions import limiter, login_manager
from app.localtime import format_local
from app.money import format_money, format_yuan
from app.web.glossary import glossary_groups, language, term_name

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)

login_manager.login_view = "web.login"

STATUS_TEXT = {
    400: _l("The request could not be understood."),
    401: _l("Please log in."),
    403: _l("You do not have access to this page or record."),
    404: _l("This page or record does not exist."),
    405: _l("This action is not allowed here."),
    409: _l("This clashes with what has already been recorded."),
    413: _l("What was sent is too large."),
    415: _l("The request could not be understood."),
    422: _l("Some of what was entered cannot be accepted."),
    428: _l("The request is missing a required header."),
    429: _l("Too many attempts. Please wait a few minutes and try again."),
    500: _l("Something went wrong on the server. Please try again."),
    503: _l("The system is busy. Nothing was saved; please try again in a moment."),
}


def _session_limits() -> SessionLimits:
    config = current_app.config
    return SessionLimits(
        idle=dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        absolute=dt.timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]),
    )


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The user of this browser's live server-side session (see auth.operations)."""
    key = session.get("sid")
    if not key:
        return None
    user = resume_login_session(key, clock()(), _session_limits())
    if user is None or str(user.id) != user_id:
        session.pop("sid", None)
        return None
    return user


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    return redirect(url_for("web.login", next=request.full_path))


@bp.app_context_processor
def _shell_globals() -> dict[str, Any]:
    # ``term('fund')``: a programme term's one name (app.glossary), in the user's language.
    return {"get_locale": get_locale, "term": term_name}


@bp.app_template_filter("yuan")
def yuan_filter(fen: int | None) -> str:
    """``1250`` → ``¥12.50``."""
    return "" if fen is None else format_money(fen)


@bp.app_template_filter("yuan_plain")
def yuan_plain_filter(fen: int | None) -> str:
    """``1250`` → ``12.50`` (where the words already say 元)."""
    return "" if fen is None else format_yuan(fen)


@bp.app_template_filter("shanghai")
def shanghai_filter(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return format_local(moment, fmt)


# Chinese text: a message written for the user, not Werkzeug's or a domain error's English.
_HAN = re.compile(r"[\u4e00-\u9fff]")


def render_error(status: int, message: str) -> str:
    # Under the Chinese headline only words the user reads: Werkzeug's descriptions
    # ("The requested URL was not found on the server…") and the domain errors'
    # API messages are English; the headline already says what happened.
    if language() != "en" and not _HAN.search(message or ""):
        message = ""
    return render_template(
        "error.html",
        status=status,
        explanation=STATUS_TEXT.get(status, STATUS_TEXT[500]),
        message=message,
    )


@bp.app_errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Any:
    """The form's security token is missing or stale (a very old tab, a new login)."""
    text = _("This form has expired. Reload the page and try again; nothing was saved.")
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(ok=False, errors={"_": text}), 400
    return render_template("error.html", status=400, explanation=text, message=""), 400


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None  # never redirect off-site
    return target


def _login_username() -> str:
    return request.form.get("username", "").strip().lower()[:60]


def _login_user_key() -> str:
    return "user:" + _login_username()


def _login_pair_key() -> str:
    # The address and the name together: one address guessing one user's password.
    return f"pair:{get_remote_address()}:{_login_username()}"


# A signed cookie a browser gets when its user logs in: the user's own browser is
# never slowed down by someone else's guesses at the same username.
KNOWN_BROWSER_COOKIE = "known_login"
_KNOWN_BROWSER_DAYS = 90


def _known_browser() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-login-browser")


def _from_known_browser() -> bool:
    """The login comes from a browser where this username logged in before."""
    cookie = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not cookie:
        return False
    try:
        names = _known_browser().loads(cookie, max_age=_KNOWN_BROWSER_DAYS * 86400)
    except BadSignature:
        return False
    return isinstance(names, list) and _login_username() in names


def _remember_browser(response: Response, username: str) -> None:
    names: list[str] = []
    cookie = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if cookie:
        try:
            loaded = _known_browser().loads(cookie, max_age=_KNOWN_BROWSER_DAYS * 86400)
            names = [n for n in loaded if isinstance(n, str)] if isinstance(loaded, list) else []
        except BadSignature:
            names = []
    names = [username.lower(), *[n for n in names if n != username.lower()]][:5]
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        _known_browser().dumps(names),
        max_age=_KNOWN_BROWSER_DAYS * 86400,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def _login_failed(response: Response) -> bool:
    # Only failed attempts count: a clinic that logs in every morning is never throttled.
    return response.status_code == 401


# Three limits, counted in the database (every worker shares them), failures only:
# per address (one machine guessing many names), per address and username (one
# machine guessing one password: the hard limit) and per username from anywhere
# (many machines guessing one password): that one only slows guessing down, for a
# short window, and never applies to a browser the user has logged in from.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_login_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_PAIR"],
    key_func=_login_pair_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_USER"],
    key_func=_login_user_key,
    methods=["POST"],
    deduct_when=_login_failed,
    exempt_when=_from_known_browser,
)
def login() -> Any:
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(url_for("web.home"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:60]
        user = user_for_password(username, request.form.get("password", ""))
        if user is None:
            record_failed_login(username, clock()())
            # One message for both cases: which part was wrong is not told.
            error = _("Wrong username or password.")
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session (and CSRF token) for the new user
            if lang:
                session["lang"] = lang
            session["sid"] = start_login_session(user, clock()())
            login_user(user)
            answer = redirect(_safe_next(request.args.get("next")) or url_for("web.home"))
            _remember_browser(answer, user.username)
            return answer
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    lang = session.get("lang")
    if session.get("sid"):
        end_login_session(session["sid"], clock()())
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("web.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str) -> Response:
    if code in ("zh", "en"):
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")) or url_for("web.home"))


@bp.route("/glossary")
@login_required
def glossary() -> str:
    """术语说明: every term of the programme with its definition, in the user's language."""
    return render_template("glossary.html", groups=glossary_groups(), language=language())


@bp.route("/")
@login_required
def home() -> Response:
    user: User = current_user
    if user.role == "doctor":
        return redirect(url_for("visits.new_visit"))
    if user.role == "finance":
        return redirect(url_for("settlement.finance"))
    return redirect(url_for("settlement.board"))
