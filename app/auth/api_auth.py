"""Bearer-token authentication for the JSON API.

The API never accepts the browser's session cookie, so no API call can be
forged cross-site and CSRF tokens are needed only by the pages.
"""

from __future__ import annotations

from flask import g, request
from werkzeug.exceptions import Unauthorized

from app.auth.models import User
from app.auth.operations import user_for_token
from app.clock import clock


def authenticate_bearer() -> None:
    """``before_request`` for API blueprints: a valid token or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: Bearer <token> is required")
    user = user_for_token(token.strip(), clock()())
    if user is None:
        raise Unauthorized("the API token is not valid (unknown, revoked or expired)")
    g.api_user = user


def api_user() -> User:
    """The user the current API request was authenticated as."""
    user: User = g.api_user
    return user
