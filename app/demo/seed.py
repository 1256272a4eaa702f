"""A believable Huadu-like district to try the system with: ``flask demo seed``.

Everything goes in through the same doors as real data — villages, clinics,
the catalogue and the generated residents through the CSV import operations,
the policy through :func:`app.publishing.operations.load_policy_file`, users
through :func:`app.auth.operations.create_user`, and visits through
:func:`app.visits.operations.record_visit` / ``void_visit`` — so the demo
database obeys every rule and constraint a real one does.

Deterministic for a given seed, day and options (one ``random.Random``).  Each
step is its own unit of work; a failed seed leaves what earlier steps wrote, so
seed a fresh database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import ColumnElement, func, select

from app.auth.models import User
from app.auth.operations import create_user, hash_password
from app.catalog.models import CatalogItem, ItemPrice
from app.demo.names import random_name
from app.errors import InvalidInput
from app.extensions import db
from app.imports.operations import ImportSummary, import_bytes, import_file
from app.localtime import SHANGHAI, local_date
from app.money import format_yuan, parse_yuan
from app.people.models import Resident
from app.people.rules import make_id_number
from app.places.models import Clinic, District, Village
from app.publishing.operations import PolicyLoad, load_policy_file
from app.visits.models import Visit

DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "demo1234"
HOME_DISTRICT = "440114"  # 花都区
OTHER_DISTRICT = "440112"  # 黄埔区: patients from outside the district
CONSULTATION = "DX001"
VOID_REASONS = ("录入错误", "患者取消就诊", "重复录入")
# Full months of history before last month: paid, so clinics earn trust (信用优先).
HISTORY_MONTHS = 3
# What patients answer on the public receipt check (社会监督): (paid more?, said paid).
FEEDBACK = ((True, "30.00"), (True, "25.00"), (True, "20.00"), (False, None), (False, None))
# The doctor's reasons when a check at recording warns (事前审核).
WARNING_REASONS = ("病情需要，已告知患者", "慢性病长期用药", "患者外出务工，多带药", "复诊调整用药")


@dataclass(frozen=True)
class SeedOptions:
    residents: int = 3000
    # None: the four full months before this one, and this month (three months of
    # clean history make a clinic trusted: credit-first, issue 11).
    days: int | None = None
    # Weights of 0, 1, 2, 3 … visits per clinic and day: ~1.1 on average, which
    # keeps three months of 20 clinics near 2,000 visits and the seed under a
    # minute on SQLite (each visit goes through record_visit, ~20 ms).
    visits_per_clinic_day: tuple[int, ...] = (3, 4, 2, 1)
    seed: int = 20160101


@dataclass
class SeedReport:
    imports: list[ImportSummary] = field(default_factory=list)
    policy: PolicyLoad | None = None
    users: list[tuple[str, str, str]] = field(default_factory=list)  # name, role, scope
    visits: int = 0
    voided: int = 0
    blocked: int = 0  # refused by a check set to block (nothing saved)
    settled: list[str] = field(default_factory=list)  # one line per month settled
    reconciled: str = ""  # what the fund's simulated settlement of last month changed
    first_day: dt.date | None = None
    last_day: dt.date | None = None


def database_is_empty() -> bool:
    return db.session.scalar(select(func.count()).select_from(District)) == 0


def seed_demo(
    options: SeedOptions, now: dt.datetime, echo: Callable[[str], None] = lambda _: None
) -> SeedReport:
    """Build the demo district; ``now`` is the clock (visits are recorded up to it)."""
    rng = random.Random(options.seed)
    report = SeedReport()
    for kind in ("villages", "clinics", "catalog", "diagnoses"):
        report.imports.append(import_file(kind, DATA / f"{kind}.csv", source=f"{kind}.csv"))
        echo(str(report.imports[-1]))
    residents_csv = residents_file(rng, options.residents)
    report.imports.append(import_bytes("residents", residents_csv, source="residents.csv"))
    echo(str(report.imports[-1]))
    report.policy = load_policy_file(DATA / "policy.toml", source="policy.toml")
    echo(str(report.policy))

    doctors = _create_users(report)
    echo(f"users: {len(report.users)} created, password {PASSWORD}")
    _record_visits(rng, options, now, doctors, report, echo)
    if options.days is None:
        _patient_feedback(now, report, echo)
        _frauds(rng, now, doctors, report, echo)
        _settle_history(now, doctors, report, echo)
        _reconcile_last_month(now, report, echo)
    return report


# --- residents -----------------------------------------------------------------


def residents_file(rng: random.Random, count: int) -> bytes:
    """A residents.csv of ``count`` people, ~5% with hukou in the other district."""
    villages = list(db.session.execute(select(Village.code, Village.kind)))
    home = [code for code, _ in villages if code.startswith(HOME_DISTRICT)]
    other = [code for code, _ in villages if code.startswith(OTHER_DISTRICT)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["id_number", "name", "hukou_village_code", "insurance_type", "insured_from", "insured_to"]
    )
    seen: set[str] = set()
    while len(seen) < count:
        village = rng.choice(other) if rng.random() < 0.05 else rng.choice(home)
        birth = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(89 * 365))
        male = rng.random() < 0.5
        # The 17th digit's parity is the sex (GB 11643): odd for men.
        serial = rng.randrange(50) * 20 + rng.randrange(5) * 2 + (1 if male else 0)
        # The ID's region is where the person was registered at birth: the hukou district.
        number = make_id_number(village[:6], birth, serial)
        if number in seen:
            continue
        seen.add(number)
        insurance, insured_from, insured_to = _insurance(rng, birth)
        writer.writerow(
            [number, random_name(rng, male), village, insurance, insured_from, insured_to]
        )
    return out.getvalue().encode("utf-8")


def _insurance(rng: random.Random, birth: dt.date) -> tuple[str, str, str]:
    roll = rng.random()
    if roll < 0.08:
        return "none", "", ""
    working_age = 1966 <= birth.year <= 2004
    kind = "employee" if working_age and roll < 0.35 else "resident"
    start = max(dt.date(2016, 1, 1), birth)
    insured_from = dt.date(rng.randint(start.year, 2025), 1, 1)
    # A few lapsed enrolments: insured, but not on the visit date.
    insured_to = "2025-12-31" if rng.random() < 0.03 else ""
    return kind, insured_from.isoformat(), insured_to


# --- users -----------------------------------------------------------------------


def _create_users(report: SeedReport) -> dict[str, User]:
    """The named demo users, and one doctor per clinic (``doc_<CODE>``) who records its visits."""
    clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.code)))
    first, second = clinics[0], clinics[len(clinics) // 3]
    town = first.village.town_code
    named: list[tuple[str, str, dict[str, str], str]] = [
        ("doctor", "doctor", {"clinic_code": first.code}, f"{first.name}医生"),
        ("doctor2", "doctor", {"clinic_code": second.code}, f"{second.name}医生"),
        ("reviewer", "reviewer", {"district_code": HOME_DISTRICT}, "区卫健局审核员"),
        (
            "town_reviewer",
            "reviewer",
            {"district_code": HOME_DISTRICT, "town_code": town},
            "镇卫生院审核员",
        ),
        ("finance", "finance", {"district_code": HOME_DISTRICT}, "区财政局"),
        ("admin", "admin", {}, "区卫健局管理员"),
    ]
    shared = hash_password(PASSWORD)  # one scrypt for every demo user, not 26
    for username, role, scope, display in named:
        create_user(username, PASSWORD, role, display_name=display, password_hash=shared, **scope)
        report.users.append((username, role, " ".join(scope.values()) or "all"))
    doctors: dict[str, User] = {}
    # Their own generator: the rest of the demo draws what it drew before.
    rng = random.Random(len(clinics))
    for number, clinic in enumerate(clinics, start=1):
        username = f"doc_{clinic.code}"
        doctors[clinic.code] = create_user(
            username,
            PASSWORD,
            "doctor",
            clinic_code=clinic.code,
            display_name=random_name(rng, male=number % 3 != 0),
            password_hash=shared,
            # Illustrative practitioner codes (医保医师编码): D, the district, a serial.
            practitioner_code=f"D{HOME_DISTRICT}{number:06d}",
        )
        report.users.append((username, "doctor", clinic.code))
    return doctors


# --- visits ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    code: str
    unit: str
    price: int  # fen, today's


def _demo_days(options: SeedOptions, today: dt.date) -> list[dt.date]:
    if options.days is not None:
        start = today - dt.timedelta(days=options.days - 1)
    else:
        month = today.replace(day=1)
        for _ in range(HISTORY_MONTHS + 1):
            month = (month - dt.timedelta(days=1)).replace(day=1)
        start = month
    return [start + dt.timedelta(days=n) for n in range((today - start).days + 1)]


def _catalogue(today: dt.date) -> dict[str, _Item]:
    rows = db.session.execute(
        select(CatalogItem.code, CatalogItem.unit, ItemPrice.price)
        .join(ItemPrice, ItemPrice.item_id == CatalogItem.id)
        .where(
            ItemPrice.valid_from <= today,
            (ItemPrice.valid_to.is_(None)) | (ItemPrice.valid_to >= today),
        )
    )
    return {code: _Item(code, unit, price) for code, unit, price in rows}


# How many of one unit a village doctor dispenses at most.
_MAX_QUANTITY = {"片": 36, "粒": 36, "袋": 9, "贴": 10, "支": 6, "瓶": 2}


def _drug_lines(rng: random.Random, oral: list[_Item], scale: int = 1) -> list[tuple[str, int]]:
    """Drugs worth about 18 yuan together (Huadu 2016: ~18.5 a visit), one to four of them."""
    target = max(500, int(rng.gauss(1800, 600))) * scale  # fen
    lines: list[tuple[str, int]] = []
    amount = 0
    for item in rng.sample(oral, 4):
        if amount >= target * 0.85:
            break
        cap = _MAX_QUANTITY.get(item.unit, 2)
        quantity = max(1, min(cap, round((target - amount) / max(item.price, 1))))
        if item.unit in ("片", "粒"):
            quantity = max(6, quantity - quantity % 6)  # whole days of three doses
        lines.append((item.code, quantity))
        amount += quantity * item.price
    return lines


def _visit_lines(
    rng: random.Random, items: dict[str, _Item], injection: bool, costly: bool = False
) -> list[tuple[str, int]]:
    oral = [i for c, i in items.items() if c.startswith("Y")]
    injectable = [i for c, i in items.items() if c.startswith("Z") and c >= "Z004"]
    lines: list[tuple[str, int]] = [(CONSULTATION, 1)]
    lines += _drug_lines(rng, oral, 4 if costly else 1)
    if injection:
        if costly or rng.random() < 0.25:  # an infusion
            lines += [("F004", 1), (rng.choice(("Z001", "Z002", "Z003")), 1), ("C002", 1)]
            lines.append((rng.choice(injectable).code, rng.randint(1, 2)))
        else:
            lines += [("F001", 1), (rng.choice(injectable).code, 1), ("C001", 1)]
    roll = rng.random()
    if roll < 0.10:
        lines.append(("F010", 1))  # 测血压
    elif roll < 0.15:
        lines += [("F011", 1), ("C009", 1)]  # 血糖测定 + 试纸
    elif roll < 0.18:
        lines += [("F006", 1), ("C003", 1), ("C004", 2)]  # 换药
    # Only codes the catalogue prices today (a demo catalogue edited by hand may lack some).
    return [(code, qty) for code, qty in lines if code in items]


# The demo's main diagnoses and how often a village clinic sees them (weights).
MAIN_DIAGNOSES = {
    "J06.900": 30, "J00.x00": 8, "J02.900": 6, "J20.900": 6, "R05.x00": 4, "R50.900": 3,
    "I10.x00": 12, "E11.900": 6, "K29.700": 6, "K30.x00": 3, "K52.900": 3, "M54.500": 5,
    "M54.200": 3, "M17.900": 2, "R51.x00": 2, "L30.900": 2, "T14.100": 2, "J03.900": 2,
}  # fmt: skip
MORE_DIAGNOSES = ("I10.x00", "E11.900", "E78.500", "K29.500")


def _diagnoses(rng: random.Random) -> tuple[str, ...]:
    """One main diagnosis; a chronic one beside it now and then."""
    main = rng.choices(list(MAIN_DIAGNOSES), list(MAIN_DIAGNOSES.values()))[0]
    more = rng.choice(MORE_DIAGNOSES)
    return (main, more) if rng.random() < 0.15 and more != main else (main,)


def _patients(rng: random.Random) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    by_village: dict[str, list[str]] = {}
    by_town: dict[str, list[str]] = {}
    everyone: list[str] = []
    for number, village in db.session.execute(
        select(Resident.id_number, Resident.hukou_village_code).order_by(Resident.id_number)
    ):
        by_village.setdefault(village, []).append(number)
        by_town.setdefault(village[:9], []).append(number)
        everyone.append(number)
    return by_village, by_town, everyone


def _pick_patient(
    rng: random.Random,
    village_code: str,
    patients: tuple[dict[str, list[str]], dict[str, list[str]], list[str]],
) -> str:
    by_village, by_town, everyone = patients
    roll = rng.random()
    if roll < 0.01:  # a visitor not in the register (valid ID, unknown resident)
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(60 * 365))
        return make_id_number("445281", birth, rng.randrange(1000))
    pool = (
        by_village.get(village_code)
        if roll < 0.75
        else by_town.get(village_code[:9])
        if roll < 0.93
        else None
    )
    return rng.choice(pool or everyone)


def _record_visits(
    rng: random.Random,
    options: SeedOptions,
    now: dt.datetime,
    doctors: dict[str, User],
    report: SeedReport,
    echo: Callable[[str], None],
) -> None:
    # Imported here: the visits package is the newest part of the app, and the
    # rest of the demo (imports, policy, users) must not depend on it to load.
    from app.oversight.checks import screen
    from app.visits.operations import LineRequest, VisitRequest, record_visit, void_visit

    today = local_date(now)
    days = _demo_days(options, today)
    items = _catalogue(today)
    # Its own generator: the visits' mix stays what it was before diagnoses came.
    diagnoses = random.Random(options.seed + 19)
    patients = _patients(rng)
    # Plain values: every recorded visit commits, which expires loaded objects.
    clinics = list(
        db.session.execute(select(Clinic.code, Clinic.village_code).order_by(Clinic.code))
    )
    report.first_day, report.last_day = days[0], days[-1]
    counts = range(len(options.visits_per_clinic_day))
    # One clinic bills far more last month — every visit an infusion, four times
    # the drugs — so the reviewer's board flags it against its peers.
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    flagged = clinics[-1][0] if options.days is None else None
    for day in days:
        for clinic_code, village_code in clinics:
            doctor = doctors[clinic_code]
            for _ in range(rng.choices(counts, options.visits_per_clinic_day)[0]):
                local_time = dt.datetime.combine(day, dt.time(8, 0), SHANGHAI) + dt.timedelta(
                    minutes=rng.randrange(10 * 60)
                )
                visited_at = local_time.astimezone(dt.UTC)
                if visited_at > now:
                    continue
                costly = clinic_code == flagged and (day.year, day.month) == (
                    last_month.year,
                    last_month.month,
                )
                injection = costly or rng.random() < 0.20
                # Recorded a few minutes after the visit, as a doctor at the terminal
                # does (a back-dated entry would be a late entry for the checks).
                recorded_at = min(now, visited_at + dt.timedelta(minutes=rng.randrange(2, 15)))
                request = VisitRequest(
                    clinic=clinic_code,
                    patient_id_number=_pick_patient(rng, village_code, patients),
                    injection=injection,
                    lines=tuple(
                        LineRequest(item=code, quantity=str(qty))
                        for code, qty in _visit_lines(rng, items, injection, costly)
                    ),
                    visited_at=visited_at,
                    warning_reason=rng.choice(WARNING_REASONS),
                    diagnoses=_diagnoses(diagnoses),
                )
                try:
                    visit, _ = record_visit(request, actor=doctor, now=recorded_at, screen=screen)
                except InvalidInput as refused:
                    # A check set to block (a split visit, say): the doctor sends the
                    # patient home with the first visit's receipt; nothing is saved.
                    if not all(p.code.startswith("check_") for p in refused.problems):
                        raise
                    report.blocked += 1
                    continue
                report.visits += 1
                if rng.random() < 0.01:
                    void_visit(visit.id, rng.choice(VOID_REASONS), actor=doctor, now=recorded_at)
                    report.voided += 1
        if day.day == 1 or day == days[-1]:
            echo(f"visits: {report.visits} recorded up to {day.isoformat()}")


def identity_violations() -> int:
    """Visits whose shares do not add up (always 0: the database CHECK forbids it)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Visit)
            .where(Visit.total != Visit.patient + Visit.fund + Visit.fiscal)
        )
        or 0
    )


# --- settlement history ------------------------------------------------------------


def _settle_history(
    now: dt.datetime, doctors: dict[str, User], report: SeedReport, echo: Callable[[str], None]
) -> None:
    """Give the demo a past: the history months paid, last month submitted under credit-first.

    Every step goes through the settlement operations with a plausible clock:
    doctors submit on the 2nd of the next month, the district reviews on the
    5th and finance pays on the 20th.  The demo policy has credit-first review
    on (its ``[review]`` table) from the start, so in the history months no
    clinic has earned trust yet: each statement gets a review worklist, and
    the reviewer accepts every visit on it before approving.  Two clinics had
    a month returned once, so they are not trusted.  Last month, the clinics
    with three clean months and no flag are reviewed by the system as they
    submit, the others get a review worklist.  The first clinic (the
    ``doctor`` user's) keeps last month open so the demo can show a doctor
    confirming it with one click.
    """
    from app.oversight.operations import recompute_flags
    from app.oversight.queries import worklist
    from app.settlement.figures import month_figures
    from app.settlement.operations import (
        BatchPayment,
        pay_reviewed_statements,
        record_finding,
        return_statement,
        review_statement,
        submit_statement,
    )
    from app.settlement.queries import statement_row

    today = local_date(now)
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    history = [last_month]
    for _ in range(HISTORY_MONTHS):
        history.insert(0, (history[0] - dt.timedelta(days=1)).replace(day=1))
    reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
    finance = db.session.scalar(select(User).where(User.username == "finance"))
    assert reviewer is not None and finance is not None
    clinics = sorted(doctors)
    returned_once = set(clinics[1:3])

    def at(day: dt.date, hour: int) -> dt.datetime:
        moment = dt.datetime.combine(day, dt.time(hour), SHANGHAI).astimezone(dt.UTC)
        return min(moment, now)

    for month_start in history:
        month = f"{month_start:%Y-%m}"
        next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
        submit_at, review_at, pay_on = (
            at(next_month + dt.timedelta(days=1), 17),
            at(next_month + dt.timedelta(days=4), 10),
            next_month + dt.timedelta(days=19),
        )
        keep_open = clinics[:1] if month_start == last_month else []
        for code in clinics:
            if code not in keep_open:
                submit_statement(code, month, doctors[code], submit_at)
        if month_start == last_month or pay_on > today:
            report.settled.append(f"{month}: submitted by {len(clinics) - len(keep_open)} clinics")
            continue
        due = 0
        for code in clinics:
            if code in returned_once and month_start == history[-2]:
                return_statement(code, month, "请核对注射费", reviewer, review_at)
                submit_statement(code, month, doctors[code], review_at)
            clinic_id = doctors[code].clinic_id
            assert clinic_id is not None
            statement = statement_row(clinic_id, month)
            assert statement is not None
            for item in worklist(statement.id):
                if item.finding is None:
                    record_finding(code, month, item.visit_id, "accepted", reviewer, review_at)
            review_statement(code, month, reviewer, review_at)
            due += month_figures(clinic_id, month).fiscal
        batch = BatchPayment(
            paid_on=pay_on, reference=f"HDCZ-{month_start:%Y%m}-001", count=len(clinics), amount=due
        )
        pay_reviewed_statements(HOME_DISTRICT, month, batch, finance, at(pay_on, 15))
        report.settled.append(f"{month}: submitted, reviewed and paid for {len(clinics)} clinics")
    flags = recompute_flags(HOME_DISTRICT, f"{last_month:%Y-%m}", now)
    flagged = ", ".join(sorted({f.clinic for f in flags}))
    report.settled.append(f"{last_month:%Y-%m}: {len(flags)} peer flags ({flagged})")
    for line in report.settled:
        echo(f"settlement: {line}")


def _patient_feedback(now: dt.datetime, report: SeedReport, echo: Callable[[str], None]) -> None:
    """A few patients check last month's receipts; three say they were asked to pay more."""
    from app.oversight.operations import receipt_code_for, record_feedback

    last_month = f"{local_date(now).replace(day=1) - dt.timedelta(days=1):%Y-%m}"
    flagged = db.session.scalar(select(Clinic.id).order_by(Clinic.code.desc()).limit(1))
    visits = list(
        db.session.scalars(
            select(Visit.id)
            .where(Visit.month == last_month, Visit.clinic_id == flagged, Visit.voided_at.is_(None))
            .order_by(Visit.id)
            .limit(len(FEEDBACK))
        )
    )
    for visit_id, (asked_more, said) in zip(visits, FEEDBACK, strict=False):
        code = receipt_code_for(visit_id, now)
        record_feedback(code, asked_more, parse_yuan(said) if said else None, now)
    echo(f"receipt checks: {len(visits)} answers from patients of {last_month}")


def _reconcile_last_month(
    now: dt.datetime, report: SeedReport, echo: Callable[[str], None]
) -> None:
    """Import the simulated fund's settlement of last month, with one of every difference.

    Finance then sees, on 医保对账, a lapsed insurance, a price the platform
    counted lower, a rejected, a reversed and a duplicated settlement and one
    the clinic never recorded — and last month's backstop following them.
    """
    from app.reconcile.operations import import_settlement_file
    from app.reconcile.platform import Disagreements, SimulatedPlatform, settlement_csv
    from app.reconcile.queries import platform_visits

    this_month = local_date(now).replace(day=1)
    month = f"{this_month - dt.timedelta(days=1):%Y-%m}"
    finance = db.session.scalar(select(User).where(User.username == "finance"))
    platform = SimulatedPlatform(
        Disagreements(lapsed=2, price=2, rejected=1, reversed=1, duplicate=1, unknown=1)
    )
    rows = platform.run_month(platform_visits(HOME_DISTRICT, month), month)
    result = import_settlement_file(
        settlement_csv(rows, "gbk"), f"医保结算明细-{month}.csv", HOME_DISTRICT, month, finance, now
    )
    report.reconciled = (
        f"{month}: {result.rows} fund settlements, {result.adjustments} adjustments of the "
        f"backstop ({format_yuan(result.adjustment_total)} yuan)"
    )
    echo(f"reconciliation: {report.reconciled}")


# --- patients to try --------------------------------------------------------------


@dataclass(frozen=True)
class SamplePatient:
    case: str
    id_number: str
    name: str
    village: str


def sample_patients(clinic_code: str) -> list[SamplePatient]:
    """One registered person per eligibility case, for trying the demo at a clinic."""
    from app.places.models import Town

    clinic = db.session.scalar(select(Clinic).where(Clinic.code == clinic_code))
    if clinic is None:
        return []
    district = clinic.district_code
    in_district = Town.district_code == district
    insured = Resident.insurance_type != "none"
    cases: list[tuple[str, list[ColumnElement[bool]]]] = [
        ("一元看病 (insured, village hukou)", [Village.kind == "village", in_district, insured]),
        ("非一元看病: community hukou", [Village.kind == "community", in_district, insured]),
        ("非一元看病: not insured", [Village.kind == "village", in_district, ~insured]),
        ("非一元看病: other district", [Town.district_code != district]),
        ("已死亡: no visit can be recorded", [Resident.died_on.is_not(None)]),
    ]
    samples: list[SamplePatient] = []
    for case, where in cases:
        row = db.session.execute(
            select(Resident.id_number, Resident.name, Village.name)
            .join(Village, Village.code == Resident.hukou_village_code)
            .join(Town, Town.code == Village.town_code)
            .where(*where)
            .order_by(Resident.id)
            .limit(1)
        ).first()
        if row is not None:
            samples.append(SamplePatient(case, row[0], row[1], row[2]))
    return samples


# --- the frauds that cost rural programmes most (issue 26) ---------------------------

# The clinics that show them, counted from the end of the code-sorted list (the last
# one bills far more, above): phantom visits, then dispensing beyond its deliveries.
PHANTOM, STOCK = -2, -3
PHANTOM_PEOPLE, PHANTOM_VISITS = 8, 5  # villagers billed again and again last month
PHANTOM_DIAGNOSIS = "I64.x00"  # 脑卒中: flagged on the diagnosis mix (issue 19 §5)
TRACE_CODE = "81000000000000000001"  # one pack dispensed twice at the stock clinic


def _month_start(today: dt.date, back: int) -> dt.date:
    month = today.replace(day=1)
    for _ in range(back):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


def _frauds(
    rng: random.Random,
    now: dt.datetime,
    doctors: dict[str, User],
    report: SeedReport,
    echo: Callable[[str], None],
) -> None:
    """A death with a visit after it, a clinic with phantom visits that villagers disown,
    and a clinic whose dispensing outruns its deliveries — each where its role sees it."""
    from app.oversight.checks import screen
    from app.oversight.operations import disown_visit, receipt_code_for
    from app.visits.operations import LineRequest, VisitRequest, record_visit

    today = local_date(now)
    last = _month_start(today, 1)
    clinics = sorted(doctors)
    phantom, stock = clinics[PHANTOM], clinics[STOCK]
    items = _catalogue(today)
    oral = [i for c, i in items.items() if c.startswith("Y")]

    # Phantom visits: a few villagers of the clinic's village, each "seen" again and
    # again last month (a register billed wholesale); three of them say it was not so.
    village = db.session.scalar(select(Clinic.village_code).where(Clinic.code == phantom))
    people = list(
        db.session.scalars(
            select(Resident.id_number)
            .where(Resident.hukou_village_code == village, Resident.died_on.is_(None))
            .order_by(Resident.id_number)
            .limit(PHANTOM_PEOPLE)
        )
    )
    billed: dict[str, list[int]] = {}
    for n, number in enumerate(people):
        for k in range(PHANTOM_VISITS):
            day = last + dt.timedelta(days=1 + n % 3 + 6 * k)
            at = dt.datetime.combine(day, dt.time(16, n), SHANGHAI).astimezone(dt.UTC)
            if at > now:
                continue
            request = VisitRequest(
                clinic=phantom,
                patient_id_number=number,
                lines=tuple(
                    LineRequest(code, str(qty))
                    for code, qty in [(CONSULTATION, 1), *_drug_lines(rng, oral)]
                ),
                visited_at=at,
                warning_reason=WARNING_REASONS[0],
                # The Shan County pattern: the billed villagers all "had a stroke".
                diagnoses=(PHANTOM_DIAGNOSIS,),
            )
            try:
                visit, _ = record_visit(
                    request, doctors[phantom], at + dt.timedelta(minutes=5), screen=screen
                )
            except InvalidInput:  # a check set to block: nothing saved
                continue
            billed.setdefault(number, []).append(visit.id)
            report.visits += 1
    disowned = 0
    for visits in list(billed.values())[:3]:
        if len(visits) < 2:
            continue
        code = receipt_code_for(visits[0], now)
        disowned += disown_visit(code, visits[-1], now)
    echo(f"phantom visits: {sum(map(len, billed.values()))} at {phantom}, {disowned} disowned")

    # A death: a resident seen last month is reported dead three days before that visit.
    dead = db.session.execute(
        select(Visit.patient_id_number, Visit.visit_date)
        .join(Clinic, Clinic.id == Visit.clinic_id)
        .where(
            Visit.month == f"{last:%Y-%m}",
            Visit.resident_id.is_not(None),
            Visit.voided_at.is_(None),
            Clinic.code.not_in([clinics[0], clinics[-1], phantom, stock]),
        )
        .order_by(Visit.id)
        .limit(1)
    ).first()
    if dead is not None:
        died_on = max(dead.visit_date - dt.timedelta(days=3), dt.date(1935, 1, 1))
        text = f"id_number,died_on\n{dead.patient_id_number},{died_on.isoformat()}\n"
        report.imports.append(import_bytes("deaths", text.encode(), source="deaths.csv", now=now))
        echo(str(report.imports[-1]))

    # One pack's traceability code on two visits (two people, two days) at the stock clinic.
    for offset, number in zip((9, 11), people, strict=False):
        at = dt.datetime.combine(last + dt.timedelta(days=offset), dt.time(9), SHANGHAI)
        at = at.astimezone(dt.UTC)
        if at > now:
            break
        request = VisitRequest(
            clinic=stock,
            patient_id_number=number,
            lines=(LineRequest(CONSULTATION, "1"), LineRequest("Y001", "12", (TRACE_CODE,))),
            visited_at=at,
            warning_reason=WARNING_REASONS[1],
        )
        try:
            record_visit(request, doctors[stock], at + dt.timedelta(minutes=5), screen=screen)
            report.visits += 1
        except InvalidInput:
            pass

    # Deliveries: the doctor's clinic receives a little more than it dispenses each
    # month; the stock clinic starts keeping stock last month, when three of its items
    # came in at a quarter of what it dispensed.
    report.imports.append(
        import_bytes(
            "deliveries",
            _deliveries_file(clinics[0], stock, today),
            source="deliveries.csv",
            now=now,
        )
    )
    echo(str(report.imports[-1]))


def _deliveries_file(keeper: str, short: str, today: dt.date) -> bytes:
    """Per month and drug, what the two clinics were delivered (from what they dispensed)."""
    from app.visits.models import ClinicMonthItem

    first = f"{_month_start(today, HISTORY_MONTHS + 1):%Y-%m}"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "clinic",
            "date",
            "item",
            "batch_number",
            "expiry",
            "quantity",
            "price",
            "supplier",
            "approval_number",
        ]
    )
    rows = db.session.execute(
        select(
            Clinic.code,
            ClinicMonthItem.month,
            ClinicMonthItem.item_code,
            func.sum(ClinicMonthItem.quantity),
        )
        .join(Clinic, Clinic.id == ClinicMonthItem.clinic_id)
        .join(CatalogItem, CatalogItem.code == ClinicMonthItem.item_code)
        .where(
            Clinic.code.in_([keeper, short]),
            ClinicMonthItem.month >= first,
            CatalogItem.kind.in_(("drug", "material")),
        )
        .group_by(Clinic.code, ClinicMonthItem.month, ClinicMonthItem.item_code)
        .order_by(Clinic.code, ClinicMonthItem.month, ClinicMonthItem.item_code)
    ).all()
    last = f"{_month_start(today, 1):%Y-%m}"
    prices = {code: item.price for code, item in _catalogue(today).items()}
    # The stock clinic's three most dispensed items last month came in at a quarter.
    shorted = {
        item
        for _, item in sorted(
            ((-int(q), item) for c, m, item, q in rows if c == short and m == last)
        )[:3]
    }
    for clinic, month, item, quantity in rows:
        if clinic == short and month < last:
            continue
        # Whole units, 20 % over what was dispensed (the stock clinic: a quarter of three).
        if clinic == short and month == last and item in shorted:
            units = int(quantity) // 4000
        else:
            units = -(-int(quantity) * 6 // 5 // 1000)
        if units <= 0:
            continue
        price = prices.get(item, 0) * 9 // 10  # bought at 90 % of the approved price
        writer.writerow(
            [
                clinic,
                f"{month}-01",
                item,
                f"B{month.replace('-', '')}{item}",
                f"{int(month[:4]) + 2}{month[4:]}-01",
                units,
                format_yuan(price),
                "广州医药有限公司",
                f"国药准字H{zlib.crc32(item.encode()) % 10**8:08d}",
            ]
        )
    return out.getvalue().encode("utf-8")
