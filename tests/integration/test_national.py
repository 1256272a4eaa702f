"""What the insurance platform needs (issue 19): the consultation kind, national catalogue
fields, diagnoses, practitioner codes — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, update

from app.catalog.models import CatalogItem, ItemPrice
from app.database import unit_of_work
from app.extensions import db
from app.visits.models import Visit, VisitLine
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_glossary_pages import pdf_text
from tests.integration.test_settlement import record
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    login,
    request_scoped_g,
    save_form,
    text_of,
)
from tests.integration.test_visits_api import post_visit, visit_body

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


def set_national(code: str, **values: Any) -> None:
    """The item's price rows get national fields (as a catalogue import would set them)."""
    with unit_of_work() as session:
        item_id = session.scalar(select(CatalogItem.id).where(CatalogItem.code == code))
        session.execute(update(ItemPrice).where(ItemPrice.item_id == item_id).values(**values))


def second_worked_example() -> None:
    """SPEC §3: amoxicillin's ceiling 0.30 a capsule, 复方甘草片's own ratio 0.05."""
    set_national("AMX01", price_ceiling=30, national_code="XJ01CAA040A001010100483", fee_class="09")
    set_national("FFGC1", selfpay_ratio=500, fee_class="09")
    set_national("DX001", national_code="001102000010000", fee_class="12")


def test_the_second_worked_example_end_to_end(client: FlaskClient, world: World) -> None:
    second_worked_example()
    quote = client.post(
        "/api/v1/visits/quote", json=visit_body(world), headers=world.auth("doctor")
    )
    assert quote.status_code == 200, quote.json
    saved = post_visit(client, world, visit_body(world))
    assert saved.status_code == 201, saved.json
    for answer in (quote.json, saved.json):
        totals = answer["totals"]
        assert (totals["fund"], totals["fiscal"], totals["patient"]["total"], totals["total"]) == (
            "11.85",
            "5.25",
            "7.60",
            "24.70",
        )
        assert (totals["in_scope"], totals["self_pay"]) == ("17.10", "5.60")
        consultation, amoxicillin, gancao, dressing = answer["lines"]
        assert (amoxicillin["price_ceiling"], amoxicillin["over_ceiling"]) == ("0.30", "0.60")
        assert amoxicillin["national_code"] == "XJ01CAA040A001010100483"
        assert (amoxicillin["fee_class"], amoxicillin["selfpay_ratio"]) == ("09", None)
        assert (gancao["selfpay_ratio"], gancao["price_ceiling"], gancao["over_ceiling"]) == (
            "0.05",
            None,
            "0.00",
        )
        assert (consultation["national_code"], consultation["fee_class"]) == (
            "001102000010000",
            "12",
        )
        assert dressing["price_ceiling"] is None and dressing["selfpay_ratio"] is None
    line = db.session.scalar(select(VisitLine).where(VisitLine.item_code == "AMX01"))
    assert line is not None
    assert (line.price_ceiling, line.over_ceiling, line.fund_base, line.in_scope) == (
        30,
        60,
        360,
        360,
    )
    visit = db.session.scalar(select(Visit))
    assert visit is not None and (visit.fund_base, visit.fund, visit.fiscal) == (1693, 1185, 525)
    shown = client.get(f"/api/v1/visits/{visit.id}", headers=world.auth("doctor"))
    assert shown.json["lines"] == saved.json["lines"]


@pytest.mark.usefixtures("request_scoped_g")
def test_the_receipt_shows_the_ceiling_and_the_ratio_where_they_applied(
    client: FlaskClient, world: World, tmp_path: Path
) -> None:
    second_worked_example()
    csrf = login(client)
    r = client.post("/visits/new", data=save_form(world, csrf, "t-national"))
    assert r.status_code == 303
    page = text_of(client.get(r.location).text)
    assert "医保限价 0.30/粒，超限 0.60" in page
    assert "先行自付 5%" in page
    assert "¥11.85" in page and "¥5.25" in page and "¥7.60" in page and "¥24.70" in page
    pdf = client.get(r.location + ".pdf")
    assert pdf.status_code == 200
    words = pdf_text(pdf.data, tmp_path)
    assert "医保限价0.30/粒，超限0.60" in words and "先行自付5%" in words
    assert "11.85" in words and "7.60" in words
