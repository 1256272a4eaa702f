"""``flask demo platform``: the simulated insurance platform's own copy of the demo district.

The simulator keeps its own persons, catalogue and fund rules, loaded here
from the demo's — with the disagreements a real platform has with a clinic's
system: a few drugs with a price ceiling or a different self-pay ratio, a few
people whose insurance lapsed on the platform, and a few it does not know at
all (their visits stay pending, refused, until a person looks).  Then this
month's recent insured visits are sent to it, so every role sees settled,
differing and pending visits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests
from sqlalchemy import func, select

from app.auth.models import User
from app.catalog.models import CatalogItem, ItemPrice
from app.extensions import db
from app.insurance.client import Gateway
from app.insurance.models import InsuranceSettlement
from app.insurance.operations import open_settlement, settle_due
from app.insurance.rules import visit_claim
from app.localtime import month_of
from app.people.models import Resident
from app.policy.models import PolicyVersion
from app.visits.models import Visit

LEVELS = {"A": "01", "B": "02", "C": "03"}
FEE_CLASS = {"diagnosis": "12", "drug": "09", "material": "08", "service": "05"}


def _ratio(value: int) -> str:
    return str(Decimal(value) / 10000)


def _wait(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url + "admin/health", timeout=2).raise_for_status()
            return True
        except requests.RequestException:
            time.sleep(0.3)
    return False


def load_platform(
    gateway: Gateway, clock: Callable[[], Any], echo: Callable[[str], None], *, visits: int = 40
) -> None:
    base = gateway.url if gateway.url.endswith("/") else gateway.url + "/"
    if db.session.scalar(select(func.count()).select_from(InsuranceSettlement)):
        echo("demo platform: settlements exist already; nothing to load")
        return
    if not _wait(base):
        echo(f"demo platform: no simulator answers at {base}; nothing loaded")
        return
    policy = db.session.scalars(
        select(PolicyVersion).order_by(PolicyVersion.effective_from.desc())
    ).first()
    b_ratio = _ratio(policy.class_b_selfpay_ratio) if policy else "0.10"
    rules: dict[str, Any] = {
        "fund_ratio": _ratio(policy.fund_ratio) if policy else "0.70",
        "annual_cap": policy.fund_annual_cap if policy else 60000,
    }
    items = []
    prices = dict(
        db.session.execute(
            select(ItemPrice.item_id, func.max(ItemPrice.price)).group_by(ItemPrice.item_id)
        ).all()
    )
    # The platform knows an item by its national code (SPEC §2.1) where one is recorded.
    national = dict(
        db.session.execute(
            select(ItemPrice.item_id, ItemPrice.national_code)
            .where(ItemPrice.national_code.is_not(None))
            .order_by(ItemPrice.valid_from)
        ).all()
    )
    drugs_bent = 0
    for item in db.session.scalars(select(CatalogItem).order_by(CatalogItem.code)):
        level = "03" if item.kind == "service" else LEVELS.get(item.insurance_class, "03")
        row: dict[str, Any] = {
            "code": national.get(item.id) or item.code,
            "chrgitm_lv": level,
            "selfpay_prop": b_ratio if level == "02" else "0",
            "med_chrgitm_type": FEE_CLASS.get(item.kind, "14"),
        }
        # The platform's own view of a few drugs: a price ceiling, a higher self-pay ratio.
        if item.kind == "drug" and level in ("01", "02") and drugs_bent < 6:
            drugs_bent += 1
            if drugs_bent % 2:
                ceiling = prices.get(item.id, 0) * 4 // 5
                row["price_ceiling"] = f"{ceiling // 100}.{ceiling % 100:02d}"
            else:
                row["selfpay_prop"] = "0.20"
        items.append(row)
    now = clock()
    recent = db.session.scalars(
        select(Visit)
        .where(Visit.month == month_of(now), Visit.insured.is_(True), Visit.voided_at.is_(None))
        .order_by(Visit.id.desc())
        .limit(visits)
    ).all()
    # The platform does not know the patients of the first clinic's two latest visits:
    # those stay pending (refused), for every role to see.
    first = min((v.clinic_id for v in recent), default=None)
    unknown = {v.patient_id_number for v in recent if v.clinic_id == first}
    unknown = set(sorted(unknown)[:2])
    persons = []
    insured = db.session.scalars(
        select(Resident).where(Resident.insurance_type != "none").order_by(Resident.id)
    ).all()
    for n, person in enumerate(insured):
        if n % 97 == 5 or person.id_number in unknown:
            continue  # unknown to the platform
        insured_to = person.insured_to.isoformat() if person.insured_to else ""
        if n % 89 == 7:
            insured_to = "2025-12-31"  # lapsed on the platform
        persons.append(
            {
                "certno": person.id_number,
                "insutype": "310" if person.insurance_type == "employee" else "390",
                "insured_from": person.insured_from.isoformat() if person.insured_from else "",
                "insured_to": insured_to,
            }
        )
    requests.post(base + "admin/rules", json=rules, timeout=30).raise_for_status()
    requests.post(base + "admin/catalogue", json=items, timeout=60).raise_for_status()
    requests.post(base + "admin/persons", json=persons, timeout=120).raise_for_status()
    echo(f"demo platform: {len(persons)} persons, {len(items)} items loaded into the simulator")
    for visit in recent:
        recorder = db.session.get(User, visit.recorded_by_id)
        assert recorder is not None
        claim = visit_claim(visit, recorder.username, recorder.display_name or recorder.username)
        open_settlement(visit, claim, now, leased=False)
    attempts = settle_due(gateway, clock)
    settled = sum(1 for a in attempts if a.status == "settled")
    echo(f"demo platform: {settled} of {len(attempts)} recent visits settled, the rest pending")
