"""What the recorded visits say about policy versions.

A version that has priced a visit must never change, and a new version must
start after the last day already priced.  These questions are about visits, so
this area sits above :mod:`app.visits` in the import order, while the policy
rules, models and :mod:`app.policy.queries` sit below it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.policy.models import PolicyVersion
from app.visits.models import Visit


def visits_priced_with(session: Session, version_id: int) -> int:
    """How many visits (voided or not) were priced with this version."""
    count = session.scalar(
        select(func.count()).select_from(Visit).where(Visit.policy_version_id == version_id)
    )
    return count or 0


def last_priced_day(session: Session, district_code: str) -> dt.date | None:
    """The latest visit date priced with any version of the district, or None."""
    return session.scalar(
        select(func.max(Visit.visit_date))
        .join(PolicyVersion, PolicyVersion.id == Visit.policy_version_id)
        .where(PolicyVersion.district_code == district_code)
    )


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
