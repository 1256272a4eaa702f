"""The parsed policy is cached per version and content (issue 22): never stale."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.checks.rules import Rule, Severity
from app.extensions import db
from app.policy.models import PolicyVersion
from tests.factories import World


def test_a_version_is_parsed_once_and_a_changed_one_at_once(app: Flask, world: World) -> None:
    version = db.session.scalars(select(PolicyVersion).order_by(PolicyVersion.id)).first()
    assert version is not None
    first = version.to_policy()
    assert version.to_policy() is first  # parsed once for this content
    # Changed in place (allowed while no visit used it): the next use sees the change.
    version.registration_fee = first.registration_fee + 100
    version.oversight = '{"severities": {"split_visit": "block"}}'
    db.session.flush()
    changed = version.to_policy()
    assert changed is not first
    assert changed.registration_fee == first.registration_fee + 100
    assert changed.oversight.severity(Rule.SPLIT_VISIT) is Severity.BLOCK
    # Read back from the database in a new session: the same content, the same value.
    db.session.commit()
    db.session.expire_all()
    reread = db.session.get_one(PolicyVersion, version.id)
    assert reread.to_policy() == changed
    # Changed back: the first content's value again, not the changed one.
    reread.registration_fee = first.registration_fee
    reread.oversight = version.oversight = None
    db.session.commit()
    assert db.session.get_one(PolicyVersion, version.id).to_policy().oversight == first.oversight
