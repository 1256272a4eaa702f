"""Scope: which clinics a user may see and write (SPEC §6).

A doctor sees and writes only his clinic; a reviewer or finance user sees
the clinics of their district (or of their town, when set); an admin sees
everything.  Checks raise :class:`Forbidden` so every surface answers 403.
"""

from __future__ import annotations

from app.auth.models import User
from app.errors import Forbidden, Problem, ProblemCode
from app.places.models import Clinic


def can_see_clinic(user: User, clinic: Clinic) -> bool:
    if user.role == "admin":
        return True
    if user.role == "doctor":
        return user.clinic_id == clinic.id
    if user.district_code != clinic.district_code:
        return False
    return user.town_code is None or user.town_code == clinic.town_code


def require_clinic_visible(user: User, clinic: Clinic, field: str = "clinic") -> None:
    if not can_see_clinic(user, clinic):
        raise Forbidden(
            Problem(field, f"clinic {clinic.code} is outside your scope", ProblemCode.SCOPE)
        )


def require_doctor_of(user: User, clinic: Clinic, field: str = "clinic") -> None:
    """Visits are recorded by a doctor at his own clinic."""
    if user.role != "doctor" or user.clinic_id != clinic.id:
        raise Forbidden(
            Problem(
                field,
                f"only a doctor of clinic {clinic.code} may do this",
                ProblemCode.NOT_YOUR_CLINIC,
            )
        )


def can_see_district(user: User, district_code: str) -> bool:
    return user.role == "admin" or (
        user.role in ("reviewer", "finance") and user.district_code == district_code
    )


def require_role(user: User, *roles: str, field: str = "_", doing: str | None = None) -> None:
    """The one role check: pages (through :func:`app.web.access.role_required`), API and operations.

    ``doing`` names what is refused (``"submit a statement"``) for a clearer message.
    """
    if user.role not in roles:
        wanted = " or ".join(roles)
        message = f"only a {wanted} may {doing}" if doing else f"needs the role {wanted}"
        raise Forbidden(Problem(field, message, ProblemCode.ROLE))
