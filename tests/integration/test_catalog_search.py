"""Catalogue search: code prefix, Chinese name, pinyin initials; the price on a day.

The LIKE escaping is pure; the searches run on the migrated databases (the
``app`` fixture: SQLite, and PostgreSQL when configured), since what matters is
what the SQL does on both.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.catalog.models import CatalogItem, ItemPrice
from app.catalog.queries import (
    consultation_offer,
    like_literal,
    offer_for,
    price_on,
    search_items,
)
from app.database import unit_of_work
from tests.conftest import FixedClock
from tests.factories import World, build_world

DAY = dt.date(2026, 10, 15)


def test_like_literal_escapes_wildcards() -> None:
    assert like_literal("50%") == "50\\%"
    assert like_literal("a_b") == "a\\_b"
    assert like_literal("c:\\x") == "c:\\\\x"
    assert like_literal("阿莫西林") == "阿莫西林"


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    world = build_world(clock())
    with unit_of_work() as s:
        pinyin = {"AMX01": "amxljn", "BSJ01": "blfhsjn", "DX001": "ybzlf", "FFGC1": "ffgcp"}
        for item in s.scalars(select(CatalogItem)):
            item.pinyin = pinyin.get(item.code, "")
        # A price change: 阿莫西林 costs 0.40 from 2026-11-01.
        amx = s.scalar(select(CatalogItem).where(CatalogItem.code == "AMX01"))
        assert amx is not None
        amx.prices[0].valid_to = dt.date(2026, 10, 31)
        amx.prices.append(ItemPrice(price=40, valid_from=dt.date(2026, 11, 1)))
        # An item with a literal percent sign and one that is no longer priced.
        saline = CatalogItem(
            code="NS100",
            name="0.9%氯化钠注射液",
            kind="drug",
            unit="瓶",
            insurance_class="A",
            pinyin="09lhnzsy",
        )
        saline.prices.append(ItemPrice(price=300, valid_from=dt.date(2016, 1, 1)))
        old = CatalogItem(
            code="OLD01",
            name="停用阿莫西林",
            kind="drug",
            unit="粒",
            insurance_class="A",
            pinyin="tyamxl",
        )
        old.prices.append(
            ItemPrice(price=10, valid_from=dt.date(2016, 1, 1), valid_to=dt.date(2020, 12, 31))
        )
        s.add_all([saline, old])
    return world


def codes(text: str, day: dt.date = DAY) -> list[str]:
    return [o.code for o in search_items(text, day)]


def test_pinyin_initials_prefix(world: World) -> None:
    assert codes("amxl") == ["AMX01"]
    assert codes("AMXL") == ["AMX01"]  # typed with caps lock on
    assert codes("blf") == ["BSJ01"]
    assert codes("mxl") == []  # a prefix, not a substring, of the initials


def test_code_prefix_any_case(world: World) -> None:
    assert codes("AMX01") == ["AMX01"]
    assert codes("amx") == ["AMX01"]
    assert codes("dx")[0] == "DX001"


def test_chinese_name_substring(world: World) -> None:
    assert codes("莫西") == ["AMX01"]
    assert codes("胶囊") == ["AMX01", "BSJ01"]


def test_wildcards_are_literal(world: World) -> None:
    assert codes("%") == ["NS100"]  # the one name holding a percent sign, not everything
    assert codes("_") == []
    assert codes("0.9%") == ["NS100"]


def test_exact_code_first_then_prefixes(world: World) -> None:
    with unit_of_work() as s:
        item = CatalogItem(
            code="HY", name="护眼贴", kind="material", unit="贴", insurance_class="C", pinyin="hyt"
        )
        item.prices.append(ItemPrice(price=100, valid_from=dt.date(2016, 1, 1)))
        s.add(item)
    # "hy": the exact code HY, then the code prefix HY001, then the pinyin prefix.
    assert codes("hy")[:2] == ["HY", "HY001"]


def test_only_items_priced_on_the_day_with_that_price(world: World) -> None:
    assert "OLD01" not in codes("阿莫西林")
    assert codes("阿莫西林", dt.date(2019, 5, 1)) == ["AMX01", "OLD01"]
    assert search_items("amxl", dt.date(2026, 10, 31))[0].price == 35
    assert search_items("amxl", dt.date(2026, 11, 1))[0].price == 40
    assert price_on("AMX01", dt.date(2026, 11, 1)) == 40
    assert price_on("OLD01", DAY) is None
    assert offer_for("NOPE", DAY) is None


def test_empty_and_long_queries(world: World) -> None:
    assert codes("") == []
    assert codes("   ") == []
    assert search_items("a" * 500, DAY) == []
    assert len(search_items("a", DAY, limit=1)) <= 1


def test_the_consultation_fee(world: World) -> None:
    offer = consultation_offer(DAY)
    assert offer is not None
    assert (offer.code, offer.kind, offer.price) == ("DX001", "consultation", 1000)


def test_catalog_api_needs_a_token_and_searches(client: FlaskClient, world: World) -> None:
    assert client.get("/api/v1/catalog/items?q=amxl").status_code == 401
    r = client.get("/api/v1/catalog/items?q=amxl", headers=world.auth("doctor"))
    assert r.status_code == 200
    assert r.json["date"] == "2026-10-15"  # today in Asia/Shanghai by the app's clock
    assert r.json["items"] == [
        {
            "code": "AMX01",
            "name": "阿莫西林胶囊",
            "kind": "drug",
            "unit": "粒",
            "insurance_class": "A",
            "pinyin": "amxljn",
            "price": "0.35",
        }
    ]
    later = client.get(
        "/api/v1/catalog/items",
        query_string={"q": "amxl", "date": "2026-11-02"},
        headers=world.auth("doctor"),
    )
    assert later.json["items"][0]["price"] == "0.40"
    bad = client.get(
        "/api/v1/catalog/items",
        query_string={"q": "x", "date": "soon"},
        headers=world.auth("doctor"),
    )
    assert bad.status_code == 422
    assert "date" in bad.json["errors"]
    unknown = client.get("/api/v1/catalog/items?q=x&colour=red", headers=world.auth("doctor"))
    assert unknown.status_code == 422
