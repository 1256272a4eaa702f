"""Read-only lookups of places and clinics."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import DomainError, InvalidInput, Problem
from app.extensions import db
from app.places.models import Clinic, District


def clinic_by_code(
    code: str, field: str = "clinic", missing: type[DomainError] = InvalidInput
) -> Clinic:
    """The clinic with ``code``; ``missing`` is raised naming ``field`` when there is none.

    A clinic named in a request body is invalid input (422); one named in a
    URL path is a resource that does not exist (pass ``NotFound``).
    """
    clinic = db.session.scalar(select(Clinic).where(Clinic.code == code))
    if clinic is None:
        raise missing(Problem(field, f"unknown clinic {code!r}", "unknown_clinic"))
    return clinic


def all_districts() -> list[str]:
    """Every district's code, in order."""
    return list(db.session.scalars(select(District.code).order_by(District.code)))
