"""The one district join (app.places.queries.within): a scope is a district, a town or a clinic.

Every reader of a district's statements, summaries, payments, oversight and
reconciliation narrows through it, so what it keeps is what they all keep.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.places.models import Clinic
from app.places.queries import Scope, clinic_ids, within
from app.settlement.queries import district_visit_detail
from tests.factories import HUADU, HUANGPU, World


def _codes(scope: Scope) -> list[str]:
    return list(db.session.scalars(within(select(Clinic.code), scope).order_by(Clinic.code)))


def test_a_scope_keeps_its_district_town_or_clinic(app: Flask, world: World) -> None:
    # HD001 and HD003 are in 炭步镇, HD002 in 赤坭镇; all three in Huadu.
    assert _codes(Scope(HUADU)) == ["HD001", "HD002", "HD003"]
    assert _codes(Scope(HUADU, "440114100")) == ["HD001", "HD003"]
    assert _codes(Scope(HUADU, "440114101")) == ["HD002"]
    assert _codes(Scope(HUADU, clinic_id=world.other_clinic.id)) == ["HD002"]
    # A town of another district, or another district, keeps nothing.
    assert _codes(Scope(HUADU, "440112100")) == []
    assert _codes(Scope(HUANGPU)) == []
    ids = set(db.session.scalars(clinic_ids(Scope(HUADU, "440114100"))))
    assert ids == {world.clinic.id, world.outside_clinic.id}


def test_the_district_visits_are_those_of_its_clinics(app: Flask, world: World) -> None:
    detail = district_visit_detail(HUADU, "2026-10", None)
    (condition,) = detail.where
    kept = set(db.session.scalars(select(Clinic.code).where(condition)))
    assert kept == {"HD001", "HD002", "HD003"}
