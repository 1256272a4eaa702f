"""One JSON line per request: time, user, route, method, status, duration.

Guarantees: nothing personal is logged.  The route is the URL *rule*
(``/api/v1/visits/<int:visit_id>``), never the path or the query string, so
no ID number, name or search term reaches a log file; the user is named by
username only.  Lines go to the ``yiyuan.requests`` logger (stderr by
default), one JSON object each, ready for any log shipper.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

from flask import Flask, Response, g, request
from flask_login import current_user

logger = logging.getLogger("yiyuan.requests")


def _user() -> str | None:
    api_user = g.get("api_user")
    if api_user is not None:
        return str(api_user.username)
    # Only a user already loaded for this request; never load one just to log it.
    if "_login_user" in g and current_user.is_authenticated:
        return str(current_user.username)
    return None


def init_request_log(app: Flask) -> None:
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        if not app.config.get("REQUEST_LOG", True):
            return response
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started else None
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        logger.info(
            json.dumps(
                {
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "user": _user(),
                    "method": request.method,
                    "route": rule,
                    "status": response.status_code,
                    "duration_ms": round(duration, 1) if duration is not None else None,
                },
                ensure_ascii=False,
            )
        )
        return response
