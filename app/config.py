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
    if database_url.startswith("postgresql"):
        options["connect_args"] = {
            "connect_timeout": connect_timeout,
            "options": f"-c statement_timeout={statement_timeout * 1000}",
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
        # Login throttling (Flask-Limiter).  memory:// is per process; with
        # several gunicorn workers use a shared store, e.g. redis://host:6379.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_LIMIT_PER_USER": os.environ.get("LOGIN_LIMIT_PER_USER", "5/minute;20/hour"),
        "LOGIN_LIMIT_PER_ADDRESS": os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "30/minute;200/hour"),
        # The address printed under receipts' QR codes (default: the request's host).
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", ""),
        # The public receipt check: per address, against guessing codes.
        "VERIFY_LIMIT": os.environ.get("VERIFY_LIMIT", "20/minute;200/day"),
        "RETRY_AFTER_SECONDS": _int("RETRY_AFTER_SECONDS", 30),
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
