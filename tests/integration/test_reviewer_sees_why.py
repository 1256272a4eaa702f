"""Issue 24 §3: the reviewer sees why a clinic is flagged and which visits are behind it."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.oversight.models import ClinicFlag
from app.oversight.operations import receipt_code_for, record_feedback
from app.oversight.queries import flags_by_clinic
from app.places.models import Clinic
from app.settlement.operations import submit_statement
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import HUADU, World, set_oversight_policy
from tests.integration.test_oversight_review import peers, seed_district
from tests.integration.test_settlement import SEPT, record, user, world
from tests.integration.test_settlement_pages import login

__all__ = ["peers", "world"]


def visits_of(clinic: str) -> list[Visit]:
    return list(
        db.session.scalars(
            select(Visit).join(Clinic, Clinic.id == Visit.clinic_id).where(Clinic.code == clinic)
        )
    )


def listed(page: str) -> set[int]:
    return {int(v) for v in re.findall(r'<tr data-visit="(\d+)"', page)}


def test_each_flag_says_its_unit_and_opens_the_visits_behind_it(
    app: Flask, client: FlaskClient, world: World, peers: list[str], clock: FixedClock
) -> None:
    set_oversight_policy(review=False)  # flags on, credit-first review off
    seed_district(world, clock())
    # One ordinary HD007 visit, without an injection and cheap: not behind either flag.
    cheap = record(
        world,
        clock(),
        clinic="HD007",
        doctor="d7",
        injection=False,
        lines=(("DX001", "1"),),
        at=dt.datetime(2026, 9, 20, 2, 0, tzinfo=dt.UTC),
    )
    # A patient says he paid 30.00 for one of the costly visits.
    costly = next(v for v in visits_of("HD007") if v.id != cheap.id)
    record_feedback(receipt_code_for(costly.id, clock()), True, 3000, clock())
    ran = app.test_cli_runner().invoke(
        args=["oversight", "flags", "--district", HUADU, "--month", SEPT]
    )
    assert ran.exit_code == 0, ran.output
    clinic_id = db.session.scalar(select(Clinic.id).where(Clinic.code == "HD007"))
    assert clinic_id is not None
    figures = {f.figure.value: f for f in flags_by_clinic([clinic_id], SEPT)[clinic_id]}
    assert "cost_per_visit" in figures

    login(client, "reviewer")
    board = client.get(f"/board?month={SEPT}").get_data(as_text=True)
    cost = figures["cost_per_visit"]
    percent = round((cost.value - cost.median) / cost.median * 100)
    # The distance in a unit a reviewer can check: per cent of the median.
    assert re.search(rf"次均费用 [\d.]+ 元，全区中位数 [\d.]+ 元，高出 {percent}%", board), board
    assert "偏离" not in board
    # Each flag links to its own figure's visits.
    for figure in figures:
        assert f"/oversight/clinics/HD007/{SEPT}/visits?figure={figure}" in board

    page = client.get(f"/oversight/clinics/HD007/{SEPT}/visits?figure=cost_per_visit").text
    above = {v.id for v in visits_of("HD007") if Fraction(v.total) > cost.median}
    assert listed(page) == above and cheap.id not in above  # not every visit of the month
    assert "医疗总费用高于全区中位数的就诊" in page
    assert re.search(r'<td class="num">¥\d+\.\d\d</td>', page)  # money with ¥
    if "injection_rate" in figures:
        page = client.get(f"/oversight/clinics/HD007/{SEPT}/visits?figure=injection_rate").text
        assert listed(page) == {v.id for v in visits_of("HD007") if v.injection}

    page = client.get(f"/oversight/clinics/HD007/{SEPT}/visits?figure=complaint_share").text
    assert listed(page) == {costly.id}
    assert "患者称实付 ¥30.00" in page and f"收据所列个人负担 ¥{costly.patient / 100:.2f}" in page


def test_worklist_receipts_link_to_the_visit_and_show_what_the_patient_said(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    set_oversight_policy(review=True)
    visit = record(world, clock(), clinic="HD002", doctor="doctor2")
    record_feedback(receipt_code_for(visit.id, clock()), True, 2500, clock())
    submit_statement("HD002", SEPT, user("doctor2"), clock())
    login(client, "reviewer")
    page = client.get(f"/statements/HD002/{SEPT}").text
    assert f'href="/visits/{visit.id}/receipt">{visit.receipt_number}</a>' in page
    assert "患者称实付 ¥25.00" in page
    assert client.get(f"/visits/{visit.id}/receipt").status_code == 200
    stored = db.session.scalars(select(ClinicFlag)).all()
    assert all(f.figure for f in stored)
