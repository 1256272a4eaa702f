"""What a clinic terminal keeps so it can record while the server is out of reach (issue 25).

:func:`offline_bundle` answers, for one clinic and a window of days (today to the end
of next month, so an outage across a month's end still prices):

* the catalogue items with every price period that overlaps the window (the terminal
  picks the price valid on the visit's day, as the server will);
* the district's policy versions in force during the window: the fees and the
  class-B switches, the only parts of the policy a programme patient's payment uses;
* an eligibility roster of the residents of the ``village``-kind villages of the
  clinic's town: for each, only the days of the window on which a visit at this
  clinic is a programme visit.

Guarantees:

* no readable personal data: a roster key is HMAC-SHA256 of the ID number under a
  salt made for this roster alone, cut to 64 bits; the entry holds days, nothing
  else (no name, birth date, village or insurance type).  Residents who are never
  in the programme in the window are left out, so the roster says "programme on
  these days" or nothing;
* the roster's days follow SPEC §3.2 exactly as :func:`app.visits.rules.assess_eligibility`
  does (policy in force, village hukou in the clinic's district, the clinic in the
  programme, insured when the version requires it);
* a read: nothing is written and no clock is read (the window is passed in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select

from app.catalog.models import CatalogItem, ItemPrice
from app.extensions import db
from app.people.models import Resident
from app.places.models import Clinic, Village
from app.policy.models import PolicyVersion
from app.policy.queries import policy_versions

ROSTER_KEY_HEX = 16  # 64 bits of the HMAC: no collision among a town's residents


def roster_key(salt: bytes, id_number: str) -> str:
    """The roster's key for an ID number: what the terminal computes with WebCrypto."""
    digest = hmac.new(salt, id_number.encode("ascii"), hashlib.sha256).hexdigest()
    return digest[:ROSTER_KEY_HEX]


@dataclass(frozen=True)
class PricePeriod:
    price: int  # fen
    valid_from: dt.date
    valid_to: dt.date | None


@dataclass(frozen=True)
class OfflineItem:
    code: str
    name: str
    kind: str
    unit: str
    insurance_class: str
    pinyin: str
    prices: tuple[PricePeriod, ...]


@dataclass(frozen=True)
class OfflinePolicy:
    effective_from: dt.date
    registration_fee: int
    injection_fee: int
    class_b_selfpay_ratio: str  # e.g. "0.1000"
    class_b_selfpay_backstopped: bool


@dataclass(frozen=True)
class OfflineBundle:
    clinic: Clinic
    window_from: dt.date
    window_to: dt.date
    items: tuple[OfflineItem, ...]
    policies: tuple[OfflinePolicy, ...]
    salt: str  # hex
    # key → (first, last) day of the window, as offsets from window_from
    roster: dict[str, tuple[int, int]]


def _overlap(
    a_from: dt.date, a_to: dt.date | None, b_from: dt.date, b_to: dt.date
) -> tuple[dt.date, dt.date] | None:
    start = max(a_from, b_from)
    end = b_to if a_to is None else min(a_to, b_to)
    return (start, end) if start <= end else None


def _items(start: dt.date, end: dt.date) -> tuple[OfflineItem, ...]:
    rows = db.session.execute(
        select(CatalogItem, ItemPrice)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(ItemPrice.valid_from <= end)
        .where((ItemPrice.valid_to.is_(None)) | (ItemPrice.valid_to >= start))
        .order_by(CatalogItem.code, ItemPrice.valid_from)
    ).all()
    found: dict[str, tuple[CatalogItem, list[PricePeriod]]] = {}
    for item, price in rows:
        found.setdefault(item.code, (item, []))[1].append(
            PricePeriod(price.price, price.valid_from, price.valid_to)
        )
    return tuple(
        OfflineItem(
            code=item.code,
            name=item.name,
            kind=item.kind,
            unit=item.unit,
            insurance_class=item.insurance_class,
            pinyin=item.pinyin or "",
            prices=tuple(periods),
        )
        for item, periods in found.values()
    )


def _policies(
    versions: list[PolicyVersion], start: dt.date, end: dt.date
) -> list[tuple[dt.date, dt.date, PolicyVersion]]:
    """The versions in force during the window, each with the days it is in force."""
    spans = []
    for i, version in enumerate(versions):
        later = versions[i + 1].effective_from if i + 1 < len(versions) else None
        until = later - dt.timedelta(days=1) if later is not None else None
        span = _overlap(version.effective_from, until, start, end)
        if span is not None:
            spans.append((span[0], span[1], version))
    return spans


def offline_bundle(clinic: Clinic, start: dt.date, end: dt.date, salt: bytes) -> OfflineBundle:
    """The clinic's catalogue, fees and roster for the days ``start`` … ``end``."""
    district = clinic.village.town.district_code
    spans = _policies(policy_versions(district), start, end)
    # The clinic in the programme (joined_on ≤ d, d < left_on), met by every span.
    in_programme = None
    if clinic.joined_on is not None:
        left = clinic.left_on - dt.timedelta(days=1) if clinic.left_on is not None else None
        in_programme = _overlap(clinic.joined_on, left, start, end)

    residents = db.session.execute(
        select(
            Resident.id_number, Resident.insurance_type, Resident.insured_from, Resident.insured_to
        )
        .join(Village, Village.code == Resident.hukou_village_code)
        .where(Village.town_code == clinic.village.town_code, Village.kind == "village")
    ).all()
    roster: dict[str, tuple[int, int]] = {}
    if in_programme is not None:
        for number, insurance_type, insured_from, insured_to in residents:
            days: list[tuple[dt.date, dt.date]] = []
            for span_from, span_to, version in spans:
                span = _overlap(span_from, span_to, *in_programme)
                if span is not None and version.require_insured:
                    if insurance_type not in ("resident", "employee") or insured_from is None:
                        span = None
                    else:
                        span = _overlap(insured_from, insured_to, *span)
                if span is not None:
                    days.append(span)
            if days:
                # Versions follow one another: the days form one run unless an
                # insured gap splits them; keep the first run (the nearest days).
                first, last = days[0]
                for span_from, span_to in days[1:]:
                    if span_from != last + dt.timedelta(days=1):
                        break
                    last = span_to
                roster[roster_key(salt, number)] = ((first - start).days, (last - start).days)

    return OfflineBundle(
        clinic=clinic,
        window_from=start,
        window_to=end,
        items=_items(start, end),
        policies=tuple(
            OfflinePolicy(
                effective_from=version.effective_from,
                registration_fee=version.registration_fee,
                injection_fee=version.injection_fee,
                class_b_selfpay_ratio=str(version.to_policy().class_b_selfpay_ratio),
                class_b_selfpay_backstopped=version.class_b_selfpay_backstopped,
            )
            for _, _, version in spans
        ),
        salt=salt.hex(),
        roster=roster,
    )
