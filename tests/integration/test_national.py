"""What the insurance platform needs (issue 19): the consultation kind, national catalogue
fields, diagnoses, practitioner codes — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from app.catalog.models import CatalogItem
from app.extensions import db
from app.visits.models import VisitLine
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_settlement import record

BEFORE = "d8f1a3c5e7b9"  # the head before this migrations


def test_the_migration_renames_kind_diagnosis_in_items_and_recorded_lines(
    app: Flask, world: World, clock: FixedClock
) -> None:
    record(world, clock())
    db.session.remove()
    downgrade(revision=BEFORE)
    kinds = set(db.session.scalars(select(VisitLine.kind)))
    db.session.remove()
    assert "diagnosis" in kinds and "consultation" not in kinds
    upgrade()
    assert set(db.session.scalars(select(VisitLine.kind))) == {"consultation", "drug", "service"}
    item = db.session.scalar(select(CatalogItem).where(CatalogItem.code == "DX001"))
    assert item is not None and item.kind == "consultation"
    # The CHECK knows the new word and only it.
    record(world, clock(), at=dt.datetime(2026, 9, 11, 2, 0, tzinfo=dt.UTC))
