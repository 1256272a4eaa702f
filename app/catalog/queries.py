"""Read-only catalogue questions: find an item as a doctor types, its price on a day.

Guarantees:

* :func:`search_items` matches a code prefix (any case), a substring of the
  Chinese name, or a prefix of the pinyin initials (``amxl`` → 阿莫西林胶囊);
  the text is matched literally (``%`` and ``_`` are not wildcards);
* only items with an approved price on the given day are offered, with that
  price — the same validity rule the pricing path uses (``valid_from`` ≤ d ≤
  ``valid_to``, open ``valid_to``), so what the terminal shows is what a visit
  on that day will be charged;
* the best matches come first: the exact code, then code prefixes, then pinyin
  prefixes, then name substrings, each group by code.

Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from app.catalog.models import CatalogItem, Diagnosis, ItemPrice
from app.extensions import db

MAX_RESULTS = 50
MAX_QUERY = 50
_ESCAPE = "\\"


@dataclass(frozen=True)
class ItemOffer:
    """A catalogue item as the terminal offers it on one day: price in fen."""

    code: str
    name: str
    kind: str
    unit: str
    insurance_class: str
    pinyin: str
    price: int
    injectable: bool = False  # the terminal ticks the injection when one is added


def like_literal(text: str) -> str:
    """``text`` with LIKE wildcards escaped (with ``\\``), to be matched as typed."""
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


def _price_valid_on(day: dt.date) -> ColumnElement[bool]:
    return and_(
        ItemPrice.valid_from <= day,
        or_(ItemPrice.valid_to.is_(None), ItemPrice.valid_to >= day),
    )


def _offer(item: CatalogItem, price: int) -> ItemOffer:
    return ItemOffer(
        code=item.code,
        name=item.name,
        kind=item.kind,
        unit=item.unit,
        insurance_class=item.insurance_class,
        pinyin=item.pinyin or "",
        price=price,
        injectable=bool(item.injectable),
    )


def search_items(text: str, day: dt.date, limit: int = 20) -> list[ItemOffer]:
    """Items priced on ``day`` whose code, name or pinyin initials match ``text``."""
    # No code, name or pinyin holds a control character (PostgreSQL's text
    # cannot even hold a NUL): they are dropped, never sent.
    query = "".join(c for c in (text or "") if c.isprintable()).strip()[:MAX_QUERY]
    if not query:
        return []
    limit = max(1, min(limit, MAX_RESULTS))
    literal = like_literal(query)
    code_exact = func.upper(CatalogItem.code) == query.upper()
    code_prefix = func.upper(CatalogItem.code).like(literal.upper() + "%", escape=_ESCAPE)
    pinyin_prefix = CatalogItem.pinyin.like(literal.lower() + "%", escape=_ESCAPE)
    name_part = CatalogItem.name.like("%" + literal + "%", escape=_ESCAPE)
    rank = case(
        (code_exact, 0),
        (code_prefix, 1),
        (pinyin_prefix, 2),
        else_=3,
    )
    rows = db.session.execute(
        select(CatalogItem, ItemPrice.price)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(_price_valid_on(day), or_(code_prefix, pinyin_prefix, name_part))
        .order_by(rank, CatalogItem.code)
        .limit(limit)
    ).all()
    return [_offer(item, price) for item, price in rows]


def offer_for(code: str, day: dt.date) -> ItemOffer | None:
    """One item by its exact code, with its price on ``day``; None if unknown or unpriced."""
    row = db.session.execute(
        select(CatalogItem, ItemPrice.price)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(CatalogItem.code == code, _price_valid_on(day))
    ).first()
    return _offer(row[0], row[1]) if row else None


def offers_for(codes: list[str], day: dt.date) -> dict[str, ItemOffer]:
    """Several items by code (one query), each with its price on ``day``."""
    if not codes:
        return {}
    rows = db.session.execute(
        select(CatalogItem, ItemPrice.price)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(CatalogItem.code.in_(set(codes)), _price_valid_on(day))
    ).all()
    return {item.code: _offer(item, price) for item, price in rows}


def price_on(code: str, day: dt.date) -> int | None:
    """The approved unit price (fen) of item ``code`` on ``day``, or None."""
    offer = offer_for(code, day)
    return offer.price if offer else None


def consultation_offer(day: dt.date) -> ItemOffer | None:
    """The catalogue's general consultation fee (一般诊疗费) priced on ``day``.

    The catalogue holds one ``consultation`` item; should an import ever hold
    more, the lowest code is the one the terminal adds for the doctor.
    """
    row = db.session.execute(
        select(CatalogItem, ItemPrice.price)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(CatalogItem.kind == "consultation", _price_valid_on(day))
        .order_by(CatalogItem.code)
        .limit(1)
    ).first()
    return _offer(row[0], row[1]) if row else None


# --- diagnoses ---------------------------------------------------------------------


@dataclass(frozen=True)
class DiagnosisOffer:
    """A diagnosis code as the terminal offers it, valid on the day asked about."""

    code: str
    name: str
    system: str
    pinyin: str


def _diagnosis_valid_on(day: dt.date) -> ColumnElement[bool]:
    return and_(
        Diagnosis.valid_from <= day,
        or_(Diagnosis.valid_to.is_(None), Diagnosis.valid_to >= day),
    )


def _diagnosis_offer(d: Diagnosis) -> DiagnosisOffer:
    return DiagnosisOffer(code=d.code, name=d.name, system=d.system, pinyin=d.pinyin or "")


def search_diagnoses(text: str, day: dt.date, limit: int = 20) -> list[DiagnosisOffer]:
    """Codes valid on ``day`` whose code, name or pinyin initials match ``text``.

    As :func:`search_items`: code prefix (any case), pinyin prefix, name
    substring, matched literally; the exact code first, then code prefixes,
    pinyin prefixes and name substrings, each group by code.
    """
    query = (text or "").strip()[:MAX_QUERY]
    if not query:
        return []
    limit = max(1, min(limit, MAX_RESULTS))
    literal = like_literal(query)
    code_exact = func.upper(Diagnosis.code) == query.upper()
    code_prefix = func.upper(Diagnosis.code).like(literal.upper() + "%", escape=_ESCAPE)
    pinyin_prefix = Diagnosis.pinyin.like(literal.lower() + "%", escape=_ESCAPE)
    name_part = Diagnosis.name.like("%" + literal + "%", escape=_ESCAPE)
    rank = case((code_exact, 0), (code_prefix, 1), (pinyin_prefix, 2), else_=3)
    rows = db.session.scalars(
        select(Diagnosis)
        .where(_diagnosis_valid_on(day), or_(code_prefix, pinyin_prefix, name_part))
        .order_by(rank, Diagnosis.code)
        .limit(limit)
    )
    return [_diagnosis_offer(d) for d in rows]


def diagnoses_by_code(codes: Collection[str]) -> dict[str, Diagnosis]:
    """The diagnosis rows of ``codes`` (one query), whatever their validity."""
    if not codes:
        return {}
    rows = db.session.scalars(select(Diagnosis).where(Diagnosis.code.in_(set(codes))))
    return {d.code: d for d in rows}


def diagnosis_names(codes: Collection[str]) -> dict[str, str]:
    """Code → name for the codes the list has (one query)."""
    if not codes:
        return {}
    rows = db.session.execute(
        select(Diagnosis.code, Diagnosis.name).where(Diagnosis.code.in_(set(codes)))
    )
    return {code: name for code, name in rows}
