"""Test data: a small Huadu-like world built straight into the models.

``build_world`` gives every integration test the same cast: two clinics of
Huadu (one in the programme, one that has not joined), residents for each
eligibility branch, the SPEC worked-example catalogue and the default policy,
and one user (with an API token) per role.

The test session builds the world once into a template database
(``tests/conftest.py``); on a copy of it, ``build_world`` hands back that
world (the same ids and tokens, its clinics read in the current session)
instead of building it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.auth.operations import create_user, issue_token
from app.catalog.models import CatalogItem, Diagnosis, ItemPrice
from app.catalog.rules import pinyin_initials
from app.database import unit_of_work
from app.extensions import db
from app.money import parse_ratio
from app.people.models import Resident
from app.people.rules import make_id_number
from app.places.models import Clinic, District, Town, Village
from app.policy.models import PolicyVersion
from app.policy.rules import Policy
from app.visits.figures import REBUILD_SETTING

HUADU = "440114"
HUANGPU = "440112"

DEFAULT_POLICY = Policy(
    registration_fee=100,
    injection_fee=100,
    fund_ratio=parse_ratio("0.70"),
    fund_deductible=0,
    fund_annual_cap=60000,
    fund_visit_cap=None,
    class_b_selfpay_ratio=parse_ratio("0.10"),
    class_b_selfpay_backstopped=True,
    require_insured=True,
)

# code, name, kind, unit, class, price in fen
CATALOG = [
    ("DX001", "一般诊疗费", "consultation", "次", "A", 1000),
    ("AMX01", "阿莫西林胶囊", "drug", "粒", "A", 35),
    ("FFGC1", "复方甘草片", "drug", "瓶", "B", 350),
    ("HY001", "换药", "service", "次", "A", 500),
    ("VC001", "维生素C片", "drug", "片", "C", 2),
    ("ZS001", "肌肉注射", "service", "次", "A", 300),
    ("MZ001", "医用棉签", "material", "包", "A", 150),
    ("BSJ01", "布洛芬缓释胶囊", "drug", "粒", "B", 65),
]


# code, name, system, valid_from, valid_to (a few codes of the national lists)
DIAGNOSES = [
    ("J06.900", "急性上呼吸道感染", "western", dt.date(2019, 1, 1), None),
    ("I10.x00", "高血压", "western", dt.date(2019, 1, 1), None),
    ("E11.900", "2型糖尿病", "western", dt.date(2019, 1, 1), None),
    ("K29.700", "胃炎", "western", dt.date(2019, 1, 1), None),
    ("M54.500", "腰痛", "western", dt.date(2019, 1, 1), None),
    ("N76.000", "急性阴道炎", "western", dt.date(2019, 1, 1), None),
    ("N41.000", "急性前列腺炎", "western", dt.date(2019, 1, 1), None),
    ("J11.100", "流行性感冒", "western", dt.date(2019, 1, 1), dt.date(2025, 12, 31)),
    ("TCM001", "感冒病", "tcm", dt.date(2019, 1, 1), None),
]


@dataclass
class World:
    clinic: Clinic
    other_clinic: Clinic  # Huadu, same district, in the programme
    outside_clinic: Clinic  # Huadu, not (yet) in the programme
    ids: dict[str, str] = field(default_factory=dict)  # label → id number
    tokens: dict[str, str] = field(default_factory=dict)  # username → API token

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


# The key in ``app.extensions`` under which the app fixture leaves the SeededWorld
# its database was copied from.
SEEDED = "tests.seeded_world"


@dataclass(frozen=True)
class SeededWorld:
    """What :func:`build_world` returned, without its database session."""

    now: dt.datetime
    policy: Policy
    clinic_ids: tuple[int, int, int]
    ids: dict[str, str]
    tokens: dict[str, str]

    @classmethod
    def of(cls, world: World, now: dt.datetime, policy: Policy) -> SeededWorld:
        clinics = (world.clinic.id, world.other_clinic.id, world.outside_clinic.id)
        return cls(now, policy, clinics, dict(world.ids), dict(world.tokens))

    def load(self) -> World:
        """The World again, its clinics read in the current session (needs an app context)."""
        clinic, other, outside = (db.session.get_one(Clinic, i) for i in self.clinic_ids)
        return World(clinic, other, outside, ids=dict(self.ids), tokens=dict(self.tokens))


def build_world(now: dt.datetime, policy: Policy = DEFAULT_POLICY) -> World:
    seeded: SeededWorld | None = current_app.extensions.get(SEEDED)
    if seeded is not None:
        if (now, policy) != (seeded.now, seeded.policy):
            raise RuntimeError(
                f"this database was copied with the world built at {seeded.now} with the "
                "default policy; change the copy (a unit of work) instead of rebuilding it"
            )
        return seeded.load()
    with unit_of_work() as s:
        s.add_all([District(code=HUADU, name="花都区"), District(code=HUANGPU, name="黄埔区")])
        s.add_all(
            [
                Town(code="440114100", name="炭步镇", district_code=HUADU),
                Town(code="440114101", name="赤坭镇", district_code=HUADU),
                Town(code="440112100", name="九龙镇", district_code=HUANGPU),
            ]
        )
        s.add_all(
            [
                Village(code="440114100201", name="大涡村", kind="village", town_code="440114100"),
                Village(
                    code="440114100202", name="炭步社区", kind="community", town_code="440114100"
                ),
                Village(code="440114101201", name="瑞岭村", kind="village", town_code="440114101"),
                Village(code="440112100201", name="九龙村", kind="village", town_code="440112100"),
            ]
        )
        s.flush()
        clinic = Clinic(
            code="HD001",
            name="大涡村卫生站",
            village_code="440114100201",
            insurance_code="H44011400001",
            joined_on=dt.date(2016, 1, 1),
        )
        other = Clinic(
            code="HD002",
            name="瑞岭村卫生站",
            village_code="440114101201",
            insurance_code="H44011400002",
            joined_on=dt.date(2016, 1, 1),
        )
        outside = Clinic(
            code="HD003",
            name="炭步社区卫生站",
            village_code="440114100202",
            insurance_code="H44011400003",
            joined_on=None,
        )
        s.add_all([clinic, other, outside])
        for code, name, kind, unit, cls, price in CATALOG:
            item = CatalogItem(
                code=code,
                name=name,
                kind=kind,
                unit=unit,
                insurance_class=cls,
                pinyin=pinyin_initials(name),  # as the catalogue import fills it
            )
            item.prices.append(ItemPrice(price=price, valid_from=dt.date(2016, 1, 1)))
            s.add(item)
        for code, name, system, valid_from, valid_to in DIAGNOSES:
            s.add(
                Diagnosis(
                    code=code,
                    name=name,
                    system=system,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    pinyin=pinyin_initials(name),
                )
            )
        s.add(
            PolicyVersion(
                district_code=HUADU,
                effective_from=dt.date(2026, 1, 1),
                source="tests",
                **PolicyVersion.columns_for(policy),
            )
        )
        residents = {
            "insured_village": ("440114", "100201", "张三", "resident", dt.date(2026, 1, 1)),
            "insured_community": ("440114", "100202", "李四", "employee", dt.date(2026, 1, 1)),
            "uninsured_village": ("440114", "100201", "王五", "none", None),
            "other_district": ("440112", "100201", "赵六", "resident", dt.date(2026, 1, 1)),
            "expired_village": ("440114", "101201", "钱七", "resident", dt.date(2025, 1, 1)),
        }
        ids: dict[str, str] = {}
        for serial, (label, (district, village, name, ins, since)) in enumerate(residents.items()):
            number = make_id_number(district, dt.date(1960 + serial, 3, 7), 100 + serial)
            ids[label] = number
            s.add(
                Resident(
                    id_number=number,
                    name=name,
                    sex="M" if int(number[16]) % 2 else "F",
                    birth_date=dt.date(1960 + serial, 3, 7),
                    hukou_village_code=district + village,
                    insurance_type=ins,
                    insured_from=since,
                    insured_to=dt.date(2025, 12, 31) if label == "expired_village" else None,
                )
            )
        ids["unknown"] = make_id_number("440114", dt.date(1990, 1, 1), 999)
    world = World(clinic=clinic, other_clinic=other, outside_clinic=outside, ids=ids)
    users = [
        ("doctor", "doctor", {"clinic_code": "HD001"}),
        ("doctor2", "doctor", {"clinic_code": "HD002"}),
        ("doctor3", "doctor", {"clinic_code": "HD003"}),
        ("reviewer", "reviewer", {"district_code": HUADU}),
        ("town_reviewer", "reviewer", {"district_code": HUADU, "town_code": "440114101"}),
        ("finance", "finance", {"district_code": HUADU}),
        ("hp_reviewer", "reviewer", {"district_code": HUANGPU}),
        ("admin", "admin", {}),
    ]
    for username, role, scope in users:
        create_user(username, "secret-pass", role, **scope)
        world.tokens[username] = issue_token(username, now)
    # The reference data above was written directly, not imported: record it in
    # the audit chain as `flask audit adopt` does, so verify holds it from here.
    from app.integrity.adopt import adopt_unaudited

    adopt_unaudited("cli", now)
    return world


def set_oversight_policy(review: bool, auto_submit_day: int | None = None) -> None:
    """Huadu's policy version with the demo file's [flags] (at the textbook 3.5) and late
    hours, and [review] / [auto_submit] as asked (issue 11: they are the policy's)."""
    from fractions import Fraction

    from sqlalchemy import select

    from app.checks.rules import FlagPolicy, OversightPolicy, ReviewPolicy, oversight_to_json

    with unit_of_work() as s:
        version = s.scalars(select(PolicyVersion).where(PolicyVersion.district_code == HUADU)).one()
        version.oversight = oversight_to_json(
            OversightPolicy(
                late_entry_hours=72,
                flags=FlagPolicy(threshold=Fraction(7, 2), min_peers=5, min_count=3),
                review=ReviewPolicy(trusted_after_months=3, sample_percent=5, sample_above=10000)
                if review
                else None,
                auto_submit_day=auto_submit_day,
            )
        )
        from app.audit.operations import audit_policy

        audit_policy(s, "cli", version, "updated")


def past_the_rollup_check(session: Any) -> None:
    """Write the rest of this transaction past PostgreSQL's check that a day rollup equals
    its visits (migration e1a9c3b5d7f2), as a rebuild does: for tests that change
    the database behind the app's back, to prove the app's own checks catch it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.set_config(REBUILD_SETTING, "on", True)))
