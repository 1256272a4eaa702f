"""The one role check of the pages: a decorator over :func:`app.auth.access.require_role`.

The API and operations call :func:`~app.auth.access.require_role` directly;
pages use :func:`role_required`, which first asks for a login and then runs the
very same check, so a role refused by the API is refused by the page too (403).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask_login import current_user, login_required

from app.auth.access import require_role

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_role(current_user, *roles)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
