"""Read-only policy queries.

:func:`policy_for` is the one place that answers "which policy applies in this
district on this day" (SPEC §2: the version with the latest ``effective_from``
≤ the day; no version → no programme).  These queries read policy versions
only, so :mod:`app.visits` can use them; what the visits say about a version is
:mod:`app.publishing.usage`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ScalarSelect, select

from app.extensions import db
from app.policy.models import PolicyVersion


def version_in_force(district_code: Any, day: Any) -> ScalarSelect[int]:
    """The id of the version in force in ``district_code`` on ``day`` (values or SQL expressions).

    A scalar subquery, so a caller can join it into a larger query.
    """
    return (
        select(PolicyVersion.id)
        .where(PolicyVersion.district_code == district_code, PolicyVersion.effective_from <= day)
        .order_by(PolicyVersion.effective_from.desc())
        .limit(1)
        .correlate_except(PolicyVersion)  # also inside a query that selects versions
        .scalar_subquery()
    )


def policy_for(district_code: str, day: dt.date) -> PolicyVersion | None:
    """The version in force in ``district_code`` on ``day``, or None."""
    stmt = select(PolicyVersion).where(PolicyVersion.id == version_in_force(district_code, day))
    return db.session.scalars(stmt).first()


def policy_versions(district_code: str) -> list[PolicyVersion]:
    """Every version of a district, oldest first."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.district_code == district_code)
        .order_by(PolicyVersion.effective_from)
    )
    return list(db.session.scalars(stmt))
