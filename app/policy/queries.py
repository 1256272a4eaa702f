"""Read-only policy queries.

:func:`policy_for` is the one place that answers "which policy applies in this
district on this day" (SPEC §2: the version with the latest ``effective_from``
≤ the day; no version → no programme).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, func, select

from app.extensions import db
from app.policy.models import PolicyVersion
from app.visits.models import Visit


def policy_for(district_code: str, day: dt.date) -> PolicyVersion | None:
    """The version in force in ``district_code`` on ``day``, or None."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.district_code == district_code, PolicyVersion.effective_from <= day)
        .order_by(PolicyVersion.effective_from.desc())
        .limit(1)
    )
    return db.session.scalars(stmt).first()


def policy_versions(district_code: str) -> list[PolicyVersion]:
    """Every version of a district, oldest first."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.district_code == district_code)
        .order_by(PolicyVersion.effective_from)
    )
    return list(db.session.scalars(stmt))


def version_used(version_id: int) -> bool:
    """Whether any visit (voided or not) was priced with this version."""
    return bool(db.session.scalar(select(exists().where(Visit.policy_version_id == version_id))))


def visits_per_version(district_code: str) -> dict[int, int]:
    """How many visits used each version of the district (versions with none omitted)."""
    stmt = (
        select(Visit.policy_version_id, func.count())
        .join(PolicyVersion, PolicyVersion.id == Visit.policy_version_id)
        .where(PolicyVersion.district_code == district_code)
        .group_by(Visit.policy_version_id)
    )
    return {vid: n for vid, n in db.session.execute(stmt) if vid is not None}
