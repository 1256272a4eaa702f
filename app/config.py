"""Settings from the environment; an SQLite file under ``instance/`` by default.

Guarantees: the app never runs on a built-in secret key — without
``SECRET_KEY`` in the environment a random key is generated on first start and
kept in ``instance/secret_key`` (mode 0600), so sessions survive restarts but
no two installations share a key.  Every limit that protects the service
(session timeouts, token lifetime, request size, database timeouts, login
throttling) is a setting with a safe default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def instance_secret_key(instance: Path = INSTANCE) -> str:
    """The installation's own random key, created once with owner-only permissions."""
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    # O_EXCL: two workers starting at once never overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def engine_options(database_url: str) -> dict[str, Any]:
    """Pool and timeout options: a silent database never hangs a request for ever."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    connect_timeout = _int("DB_CONNECT_TIMEOUT", 5)  # seconds
    statement_timeout = _int("DB_STATEMENT_TIMEOUT", 30)  # seconds
    lock_timeout = _int("DB_LOCK_TIMEOUT", 10)  # seconds a statement waits for a row or table lock
    if database_url.startswith("postgresql"):
        # The server bounds a statement; the client bounds every wait for the
        # server (a stopped server never answers): the statement timeout plus a
        # margin for the answer to travel (app.database._bound_postgres_waits).
        client_deadline = statement_timeout + _int("DB_CLIENT_MARGIN", 5)
        options["connect_args"] = {
            "connect_timeout": connect_timeout,
            "options": (
                f"-c statement_timeout={statement_timeout * 1000}"
                f" -c lock_timeout={min(lock_timeout, statement_timeout) * 1000}"
            ),
            # A peer gone from the network: keepalives probe an idle socket, and
            # sent data left unacknowledged this long closes it.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": client_deadline * 1000,
            "client_deadline": client_deadline,
        }
        options["pool_timeout"] = connect_timeout
    elif database_url.startswith("sqlite"):
        # How long a writer waits for another writer's lock before giving up.
        options["connect_args"] = {"timeout": statement_timeout}
    return options


def settings_from_env() -> dict[str, Any]:
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'yiyuan.sqlite3'}"
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or instance_secret_key(),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "API_TITLE": "One-yuan clinic billing",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh", "en"],
        "WTF_CSRF_TIME_LIMIT": None,  # a doctor's form may stay open all morning
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        # Behind TLS (production) the cookie must never travel in clear text.
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 30),
        "SESSION_ABSOLUTE_HOURS": _int("SESSION_ABSOLUTE_HOURS", 12),
        "API_TOKEN_DAYS": _int("API_TOKEN_DAYS", 90),
        # Bodies are small JSON and forms; uploads (imports) have their own limit.
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024),
        "MAX_JSON_DEPTH": _int("MAX_JSON_DEPTH", 20),
        # The fund's settlement detail for a district-month (finance's upload).
        "MAX_UPLOAD_LENGTH": _int("MAX_UPLOAD_LENGTH", 64 * 1024 * 1024),
        # Throttling (Flask-Limiter), counted in the database by default so every
        # worker and server shares the counts (app.web.throttle); redis://host:6379
        # works too, memory:// counts per process.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "database://"),
        # Failed logins: one address and username (hard), one address (any names),
        # one username from anywhere (a short slow-down, never for a browser the
        # user has logged in from, so nobody can lock a user out).
        "LOGIN_LIMIT_PER_PAIR": os.environ.get("LOGIN_LIMIT_PER_PAIR", "5/minute;20/hour"),
        "LOGIN_LIMIT_PER_USER": os.environ.get("LOGIN_LIMIT_PER_USER", "10/minute"),
        "LOGIN_LIMIT_PER_ADDRESS": os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "30/minute;200/hour"),
        # The address printed under receipts' QR codes (default: the request's host).
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", ""),
        # The public receipt check: per address, against guessing codes.
        "VERIFY_LIMIT": os.environ.get("VERIFY_LIMIT", "20/minute;200/day"),
        # A resident's look-up of his own visits (receipt code + ID number's last six):
        # per address, and per receipt whatever the address (against guessing the six).
        "OWN_VISITS_LIMIT": os.environ.get("OWN_VISITS_LIMIT", "10/hour;30/day"),
        "OWN_VISITS_RECEIPT_LIMIT": os.environ.get("OWN_VISITS_RECEIPT_LIMIT", "5/hour;10/day"),
        # How long one successful look-up lets the page show his visits.
        "OWN_VISITS_MINUTES": _int("OWN_VISITS_MINUTES", 15),
        # Its answers ("asked to pay more"), per address; one answer per receipt,
        # changeable, claiming at most FEEDBACK_MAX_YUAN.
        "FEEDBACK_LIMIT": os.environ.get("FEEDBACK_LIMIT", "10/hour;30/day"),
        "FEEDBACK_MAX_YUAN": os.environ.get("FEEDBACK_MAX_YUAN", "1000.00"),
        "RETRY_AFTER_SECONDS": _int("RETRY_AFTER_SECONDS", 30),
        # Audit anchors (flask audit anchor, daily from cron): an append-only file
        # outside the database and the key that signs its lines (not in the database).
        "AUDIT_ANCHOR_FILE": os.environ.get("AUDIT_ANCHOR_FILE", ""),
        "AUDIT_ANCHOR_KEY": os.environ.get("AUDIT_ANCHOR_KEY", ""),
        # How long /readyz waits for the database before it says "not ready".
        "READY_TIMEOUT": _int("READY_TIMEOUT", 3),
        # The insurance platform adapter: "simulator" or "package.module:ClassName".
        "INSURANCE_PLATFORM": os.environ.get("INSURANCE_PLATFORM", "simulator"),
        # Real-time settlement with the national platform (SPEC §7, §9; app.insurance).
        # No gateway URL: no platform, the monthly-file way, exactly as before.
        "INSURANCE_GATEWAY_URL": os.environ.get("INSURANCE_GATEWAY_URL", ""),
        # mdtrtarea_admvs / insuplc_admdvs; empty: the clinic's district code.
        "INSURANCE_ADMVS": os.environ.get("INSURANCE_ADMVS", ""),
        "INSURANCE_RECER_SYS_CODE": os.environ.get("INSURANCE_RECER_SYS_CODE", "YIYUAN"),
        "INSURANCE_INFVER": os.environ.get("INSURANCE_INFVER", "V1.0"),
        "INSURANCE_SIGNER": os.environ.get("INSURANCE_SIGNER", "none"),  # none | sm3 | hmac-sha256
        "INSURANCE_SIGN_KEY": os.environ.get("INSURANCE_SIGN_KEY", ""),
        "INSURANCE_CONNECT_TIMEOUT": float(os.environ.get("INSURANCE_CONNECT_TIMEOUT", "3")),
        "INSURANCE_READ_TIMEOUT": float(os.environ.get("INSURANCE_READ_TIMEOUT", "10")),
        "INSURANCE_MAX_ATTEMPTS": _int("INSURANCE_MAX_ATTEMPTS", 8),
        # The retry command's sweep (a visit recorded, then a crash before its settlement
        # row): only visits of the last hours, and none before the platform went live.
        "INSURANCE_SWEEP_HOURS": float(os.environ.get("INSURANCE_SWEEP_HOURS", "24")),
        "INSURANCE_SINCE": os.environ.get("INSURANCE_SINCE", ""),
        "INSURANCE_PAUSE_AFTER_FAILURE": float(
            os.environ.get("INSURANCE_PAUSE_AFTER_FAILURE", "30")
        ),
        "PAGE_SIZE": 50,
        # Days an Idempotency-Key is kept; `flask visits purge-keys` deletes older ones.
        "IDEMPOTENCY_KEY_DAYS": int(os.environ.get("IDEMPOTENCY_KEY_DAYS", "30")),
        # Serving (app/web/serving.py): content-hashed static files built here and
        # cached by browsers for a year; how many proxies in front set X-Forwarded-*.
        "STATIC_HASHED": _bool("STATIC_HASHED", True),
        "STATIC_BUILD_DIR": os.environ.get("STATIC_BUILD_DIR") or str(INSTANCE / "assets"),
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
    }
