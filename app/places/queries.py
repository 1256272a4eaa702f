"""Read-only lookups of places and clinics, and the one district join.

Guarantees:

* which clinics a district or a town holds is written once,
  :func:`within` (clinic → village → town, the town's district): every
  statement list, summary, batch payment, oversight and reconciliation query
  narrows to its :class:`Scope` through it, so a clinic is in the same
  district on every page, paper and export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select

from app.errors import DomainError, InvalidInput, Problem, ProblemCode
from app.extensions import db
from app.places.models import Clinic, District, Town, Village

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Scope:
    """What a reader reads: a district, one of its towns, or one clinic of it."""

    district_code: str
    town_code: str | None = None
    clinic_id: int | None = None


def within(query: S, scope: Scope) -> S:
    """``query`` (with :class:`Clinic` among what it selects or joins) kept to ``scope``.

    Joins the clinic's village and town (so a query may load them eagerly
    with ``contains_eager``) and keeps the town's district, and the town or
    the clinic when the scope names one.
    """
    query = (
        query.join(Village, Village.code == Clinic.village_code)
        .join(Town, Town.code == Village.town_code)
        .where(Town.district_code == scope.district_code)
    )
    if scope.town_code is not None:
        query = query.where(Town.code == scope.town_code)
    if scope.clinic_id is not None:
        query = query.where(Clinic.id == scope.clinic_id)
    return query


def clinic_ids(scope: Scope) -> Select[tuple[int]]:
    """The ids of the clinics in ``scope``, for ``… IN (…)``."""
    return within(select(Clinic.id), scope)


def clinic_by_code(
    code: str, field: str = "clinic", missing: type[DomainError] = InvalidInput
) -> Clinic:
    """The clinic with ``code``; ``missing`` is raised naming ``field`` when there is none.

    A clinic named in a request body is invalid input (422); one named in a
    URL path is a resource that does not exist (pass ``NotFound``).
    """
    clinic = db.session.scalar(select(Clinic).where(Clinic.code == code))
    if clinic is None:
        raise missing(Problem(field, f"unknown clinic {code!r}", ProblemCode.UNKNOWN_CLINIC))
    return clinic


def all_districts() -> list[str]:
    """Every district's code, in order."""
    return list(db.session.scalars(select(District.code).order_by(District.code)))
