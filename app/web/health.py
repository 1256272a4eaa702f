"""Probes for a process supervisor or load balancer: ``/healthz`` and ``/readyz``.

Guarantees:

* ``/healthz`` answers 200 while the process can serve a request; it never
  touches the database, so a database outage does not get workers restarted;
* ``/readyz`` answers 200 only when the database answers *and* its Alembic
  revision is the head of the migration scripts this code ships; otherwise 503
  with a JSON ``reason`` (``database unreachable`` or ``migrations not at head``),
  so traffic is held back from a server whose schema is behind (or ahead);
  a database that does not answer within ``READY_TIMEOUT`` seconds (a stopped
  server answers nothing) is unreachable;
* neither needs a login, and neither says anything personal: no user, no
  database URL or error text, only revision ids.
"""

from __future__ import annotations

from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from app.database import database_wait_bound
from app.extensions import db

bp = Blueprint("health", __name__)


@cache
def script_heads(directory: str) -> frozenset[str]:
    """The head revisions of the migration scripts (fixed for the life of the process)."""
    return frozenset(ScriptDirectory(directory).get_heads())


def _unavailable(reason: str, **details: object) -> tuple[Response, int]:
    return jsonify(status="unavailable", reason=reason, **details), 503


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    heads = script_heads(current_app.extensions["migrate"].directory)
    try:
        with (
            database_wait_bound(current_app.config["READY_TIMEOUT"]),
            db.engine.connect() as connection,
        ):
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        current_app.logger.error("readyz: database unreachable: %s", type(exc).__name__)
        return _unavailable("database unreachable")
    if current != heads:
        return _unavailable(
            "migrations not at head", database=sorted(current), expected=sorted(heads)
        )
    return jsonify(status="ready", revision=sorted(heads))
