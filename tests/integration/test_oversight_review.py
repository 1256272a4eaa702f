"""Issue 11 §2–4 end to end: peer flags, credit-first review, the worklist, one click.

On SQLite and PostgreSQL, through the operations, the CLI and the pages/API.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.operations import create_user
from app.checks.rules import ReviewPolicy
from app.database import unit_of_work
from app.errors import Conflict
from app.extensions import db
from app.oversight.models import ClinicFlag, ReviewItem
from app.oversight.queries import past_statements
from app.places.models import Clinic
from app.settlement.models import Statement, StatementAdjustment, StatementEvent
from app.settlement.operations import (
    pull_back_statement,
    record_finding,
    review_statement,
    submit_statement,
)
from app.settlement.queries import statement_view
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import HUADU, World, set_oversight_policy
from tests.integration.test_settlement import SEPT, api, record, user, world
from tests.integration.test_settlement_openapi import Checker
from tests.integration.test_settlement_pages import csrf, login

__all__ = ["world"]

SEPT_DAY = dt.datetime(2026, 9, 10, 2, 0, tzinfo=dt.UTC)
# A normal visit, varied a little from clinic to clinic so the peers spread.
NORMAL = (("DX001", "1"), ("AMX01", "12"), ("HY001", "1"))
# The flagged clinic: five times the tablets and a syrup on every visit.
COSTLY = (("DX001", "1"), ("AMX01", "60"), ("FFGC1", "3"), ("HY001", "1"))
BIG = (("DX001", "1"), ("AMX01", "300"))  # above the 100-yuan review threshold

PEERS = ("HD004", "HD005", "HD006", "HD007")


@pytest.fixture(autouse=True)
def _fresh_g(app: Flask) -> None:
    # The app fixture keeps one app context pushed: forget the last request's user.
    @app.before_request
    def _forget() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)


@pytest.fixture(autouse=True)
def _flags_on(world: World) -> None:
    set_oversight_policy(review=False)


@pytest.fixture
def peers(world: World) -> list[str]:
    """Four more Huadu clinics with doctors ``d4``…``d7``: six peers with HD001 and HD002."""
    with unit_of_work() as s:
        for n, code in enumerate(PEERS, start=4):
            s.add(
                Clinic(
                    code=code,
                    name=f"测试{n}村卫生站",
                    village_code="440114101201",
                    joined_on=dt.date(2016, 1, 1),
                )
            )
    for n, code in enumerate(PEERS, start=4):
        create_user(f"d{n}", "secret-pass", "doctor", clinic_code=code)
    return list(PEERS)


def month_of_visits(world: World, now: dt.datetime, clinic: str, doctor: str, extra: int) -> None:
    """Three September visits; the AMX01 quantity differs by ``extra`` from clinic to clinic."""
    lines = (("DX001", "1"), ("AMX01", str(10 + extra)), ("HY001", "1"))
    for day in (3, 10, 17):
        at = SEPT_DAY.replace(day=day)
        record(world, now, clinic=clinic, doctor=doctor, lines=lines, at=at, injection=False)


def seed_district(world: World, now: dt.datetime) -> None:
    """Six clinics with ordinary months; HD007 bills far more per visit, all injections."""
    month_of_visits(world, now, "HD001", "doctor", 0)
    month_of_visits(world, now, "HD002", "doctor2", 2)
    month_of_visits(world, now, "HD004", "d4", 4)
    month_of_visits(world, now, "HD005", "d5", 1)
    month_of_visits(world, now, "HD006", "d6", 3)
    for day in (4, 11, 18):
        record(world, now, clinic="HD007", doctor="d7", lines=COSTLY, at=SEPT_DAY.replace(day=day))


def past_paid(clinic: str, months: tuple[str, ...]) -> None:
    """Clean history: statements paid without a return or a disallowed visit."""
    with unit_of_work() as s:
        clinic_id = s.scalar(select(Clinic.id).where(Clinic.code == clinic))
        for month in months:
            s.add(
                Statement(
                    clinic_id=clinic_id,
                    month=month,
                    status="paid",
                    visits=0,
                    fiscal=0,
                    paid_on=dt.date(2026, 9, 1),
                    payment_reference="OLD",
                    paid_amount=0,
                    paid_adjustments=0,
                )
            )


def events(clinic: str, month: str = SEPT) -> list[StatementEvent]:
    return list(
        db.session.scalars(
            select(StatementEvent)
            .join(Statement, Statement.id == StatementEvent.statement_id)
            .join(Clinic, Clinic.id == Statement.clinic_id)
            .where(Clinic.code == clinic, Statement.month == month)
            .order_by(StatementEvent.id)
        )
    )


def items(clinic: str) -> list[ReviewItem]:
    return list(
        db.session.scalars(
            select(ReviewItem)
            .join(Statement, Statement.id == ReviewItem.statement_id)
            .join(Clinic, Clinic.id == Statement.clinic_id)
            .where(Clinic.code == clinic)
            .order_by(ReviewItem.visit_id)
        )
    )


# --- §2 flags ---------------------------------------------------------------------------


def test_the_costly_clinic_is_flagged_and_shown_first_with_its_visits(
    app: Flask, client: FlaskClient, world: World, peers: list[str], clock: FixedClock
) -> None:
    seed_district(world, clock())
    result = app.test_cli_runner().invoke(
        args=["oversight", "flags", "--district", HUADU, "--month", SEPT]
    )
    assert result.exit_code == 0, result.output
    assert "HD007\tcost_per_visit" in result.output
    stored = db.session.scalars(select(ClinicFlag).where(ClinicFlag.month == SEPT)).all()
    assert {(f.figure, f.peers) for f in stored} >= {("cost_per_visit", 6)}
    codes = {db.session.get(Clinic, f.clinic_id).code for f in stored}  # type: ignore[union-attr]
    # HD007 on its money and injections; HD001 low on visits per resident (2 live in its village).
    assert "HD007" in codes
    flag = next(f for f in stored if f.figure == "cost_per_visit")
    assert Fraction(flag.score) > Fraction(7, 2) and Fraction(flag.value) > Fraction(flag.median)

    login(client, "reviewer")
    board = client.get(f"/board?month={SEPT}").get_data(as_text=True)
    rows = re.findall(r'data-clinic="([^"]+)"', board)
    assert rows[0] == "HD007"  # flagged first, whatever the sort
    assert re.search(r"次均费用 \d+\.\d\d 元，全区中位数 \d+\.\d\d 元，高出 \d+%", board)
    assert f"/oversight/clinics/HD007/{SEPT}/visits" in board

    page = client.get(f"/oversight/clinics/HD007/{SEPT}/visits?figure=cost_per_visit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "风险提示涉及的就诊" in text
    assert "张*" in text and world.ids["insured_village"] not in text  # masked
    totals = [
        Decimal(t) for t in re.findall(r'<td class="num">¥([\d.]+)</td>\s*<td class="num">', text)
    ]
    assert totals == sorted(totals, reverse=True) and len(totals) == 3

    doctor = app.test_client()
    login(doctor, "doctor")
    assert doctor.get(f"/oversight/clinics/HD007/{SEPT}/visits").status_code == 403


def test_submitting_replaces_the_clinics_own_flags(
    world: World, peers: list[str], clock: FixedClock
) -> None:
    seed_district(world, clock())
    submit_statement("HD007", SEPT, user("d7"), clock())
    flagged = db.session.scalars(select(ClinicFlag.figure)).all()
    assert "cost_per_visit" in flagged
    # Review is off in this district: the statement waits for a person, no worklist.
    assert statement_view("HD007", SEPT, None).status == "submitted" and items("HD007") == []


# --- §3 credit-first and the worklist ------------------------------------------------------


def test_a_trusted_clinic_is_reviewed_by_the_system_and_paid_with_the_rest(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    set_oversight_policy(review=True)
    past_paid("HD001", ("2026-06", "2026-07", "2026-08"))
    record(world, clock())
    record(world, clock(), patient="insured_community", injection=False)

    body = api(client, world, "doctor", "submit").get_json()
    assert body["status"] == "reviewed"
    submit, review = events("HD001")
    assert (submit.action, submit.actor_id is not None) == ("submit", True)
    assert (review.action, review.actor_id, review.to_status) == ("review", None, "reviewed")
    assert "credit_first" in review.reason and "clean_months:3" in review.reason
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "statement.review")
    ).one()
    assert entry.actor == "system"
    assert json.loads(entry.after or "{}")["event"]["reason"] == review.reason
    assert items("HD001") == []

    # An untrusted clinic (no history) waits for the reviewer with a worklist.
    record(world, clock(), clinic="HD002", doctor="doctor2")
    assert api(client, world, "doctor2", "submit", "HD002").get_json()["status"] == "submitted"
    assert len(items("HD002")) == 1  # 5 % of one visit, rounded up
    refused = api(client, world, "reviewer", "review", "HD002")
    assert refused.status_code == 409
    assert refused.get_json()["codes"] == {"worklist": "worklist_open"}

    login(client, "finance")
    page = client.get(f"/finance/{SEPT}/pay-all").get_data(as_text=True)
    assert "其中 1 家由系统自动审核" in page
    statement = client.get(f"/statements/HD001/{SEPT}").get_data(as_text=True)
    assert "系统" in statement


def test_findings_flow_into_the_statement_and_the_clinics_record(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    set_oversight_policy(review=True)
    small = record(world, clock(), clinic="HD002", doctor="doctor2")
    big = record(world, clock(), clinic="HD002", doctor="doctor2", lines=BIG)
    submit_statement("HD002", SEPT, user("doctor2"), clock())
    worklist = {i.visit_id: i.why for i in items("HD002")}
    # Recorded on 15 October for September: both entered late, and the big one is big.
    assert worklist == {small.id: "rule:late_entry", big.id: "rule:late_entry,above:10000"}
    # Reproducible: the same seed draws the same sample.
    from app.checks.rules import SampleCandidate, draw_sample, sample_seed

    seed = sample_seed(HUADU, SEPT, "HD002", "v1")
    again = draw_sample(
        [
            SampleCandidate(small.id, small.total, ("late_entry",)),
            SampleCandidate(big.id, big.total, ("late_entry",)),
        ],
        ReviewPolicy(trusted_after_months=3, sample_percent=5, sample_above=10000),
        seed,
    )
    assert {w.visit_id for w in again} == set(worklist)

    login(client, "reviewer")
    url = f"/statements/HD002/{SEPT}"
    page = client.get(url).get_data(as_text=True)
    assert "审核清单" in page and "补录、超过 100.00 元" in page
    token = csrf(client, url)
    too_much = client.post(
        f"{url}/findings/{big.id}",
        data={
            "csrf_token": token,
            "finding": "disallowed",
            "reason": "处方量超常",
            "amount": f"{big.fiscal / 100 + 1:.2f}",
        },
    )
    assert "不超过该次就诊的区财政兜底金额" in client.get(too_much.location).get_data(as_text=True)
    r = client.post(
        f"{url}/findings/{big.id}",
        data={"csrf_token": token, "finding": "disallowed", "reason": "处方量超常"},
    )
    assert r.status_code == 302
    for visit_id in worklist:
        if visit_id != big.id:
            client.post(
                f"{url}/findings/{visit_id}", data={"csrf_token": token, "finding": "accepted"}
            )
    with pytest.raises(Conflict):  # a finding is final
        record_finding("HD002", SEPT, big.id, "accepted", user("reviewer"), clock())

    (line,) = db.session.scalars(select(StatementAdjustment)).all()
    assert (line.source, line.reason, line.amount) == ("review", "disallowed", -big.fiscal)
    # Each finding is audited on the clinic's chain, and the chain verifies mid-review.
    findings_logged = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "review.finding")
    ).all()
    assert len(findings_logged) == len(worklist)
    verified = client.application.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert line.note == "处方量超常"
    review_statement("HD002", SEPT, user("reviewer"), clock())
    view = statement_view("HD002", SEPT, None)
    assert view.status == "reviewed" and view.backstop_due == view.figures.fiscal - big.fiscal

    finance = api(
        client,
        world,
        "finance",
        "pay",
        "HD002",
        body={
            "paid_on": "2026-10-14",
            "reference": "GZCZ-1",
            "amount": f"{view.backstop_due / 100:.2f}",
        },
    )
    assert finance.status_code == 200, finance.get_json()
    clinic_id = db.session.scalar(select(Clinic.id).where(Clinic.code == "HD002"))
    assert clinic_id is not None
    (past,) = past_statements(db.session, clinic_id, "2026-10", 3)
    assert past.accepted_clean is False  # the disallowed visit counts against it


# --- §4 at most one click, auto-submit, pull back -------------------------------------------


def test_one_click_confirms_the_prepared_month(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    record(world, clock())
    login(client, "doctor")
    page = client.get("/statements").get_data(as_text=True)
    assert page.count("确认提交") == 1
    form = re.search(
        r'<form method="post" action="(/statements/HD001/2026-09/submit)"(.*?)</form>', page, re.S
    )
    assert form
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(2)))
    r = client.post(form.group(1), data=fields)
    assert r.status_code == 302
    assert statement_view("HD001", SEPT, None).status == "submitted"


def test_auto_submit_on_day_d_and_the_doctor_pulls_it_back(
    app: Flask, client: FlaskClient, world: World, clock: FixedClock
) -> None:
    set_oversight_policy(review=False, auto_submit_day=5)
    record(world, clock())
    record(world, clock(), clinic="HD002", doctor="doctor2")
    submit_statement("HD002", SEPT, user("doctor2"), clock())  # confirmed by its doctor
    runner = app.test_cli_runner()
    early = runner.invoke(
        args=["oversight", "auto-submit", "--district", HUADU, "--today", "2026-10-04"]
    )
    assert early.exit_code == 0 and "0 submitted" in early.output
    due = runner.invoke(
        args=["oversight", "auto-submit", "--district", HUADU, "--today", "2026-10-05"]
    )
    assert due.exit_code == 0 and "1 submitted by the system HD001" in due.output, due.output
    (submit,) = events("HD001")
    assert submit.actor_id is None and "auto_submit" in submit.reason and "day 5" in submit.reason
    assert (
        db.session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "statement.submit"))
        .all()
        .count("system")
        == 1
    )

    login(client, "doctor")
    page = client.get("/statements").get_data(as_text=True)
    assert "系统已于" in page and "撤回" in page
    r = client.post(
        f"/statements/HD001/{SEPT}/pull-back", data={"csrf_token": csrf(client, "/statements")}
    )
    assert r.status_code == 302
    assert statement_view("HD001", SEPT, None).status == "open"
    assert [e.action for e in events("HD001")] == ["submit", "pull_back"]
    assert events("HD001")[1].actor_id == user("doctor").id

    # A month its doctor submitted cannot be pulled back, nor a reviewed one.
    with pytest.raises(Conflict) as refused:
        pull_back_statement("HD002", SEPT, user("doctor2"), clock())
    assert refused.value.problems[0].code == "not_system_submitted"


def test_a_check_that_fired_puts_its_visit_on_the_worklist_and_counts_as_warned(
    world: World, peers: list[str], clock: FixedClock
) -> None:
    from app.oversight.queries import clinic_months, oversight_policy_for
    from app.visits.models import VisitCheck

    set_oversight_policy(review=True)
    seed_district(world, clock())
    warned = db.session.execute(
        select(Visit.id, Visit.month)
        .join(Clinic, Clinic.id == Visit.clinic_id)
        .where(Clinic.code == "HD004")
    ).first()
    assert warned is not None
    with unit_of_work() as s:
        s.add(
            VisitCheck(
                visit_id=warned.id,
                visit_month=warned.month,
                rule="early_refill",
                severity="warn",
                facts="{}",
            )
        )
    settings = oversight_policy_for(HUADU, dt.date(2026, 10, 1))
    assert settings.policy.review is not None and settings.version.startswith("v")
    months = clinic_months(HUADU, SEPT, settings.policy)
    by_code = {m.clinic: m for m in months.values()}
    assert by_code["HD004"].warned == 1 and by_code["HD005"].warned == 0
    assert by_code["HD004"].late == 3  # recorded on 15 October for September

    submit_statement("HD004", SEPT, user("d4"), clock())
    why = {i.visit_id: i.why for i in items("HD004")}
    assert why[warned.id] == "rule:early_refill,rule:late_entry"


def test_the_worklist_findings_and_pull_back_through_the_api(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    from app.settlement.operations import auto_submit

    set_oversight_policy(review=True, auto_submit_day=5)
    visit = record(world, clock(), clinic="HD002", doctor="doctor2")
    assert api(client, world, "doctor2", "submit", "HD002").get_json()["status"] == "submitted"
    url = f"/api/v1/statements/HD002/{SEPT}"
    # Every answer of these three endpoints also matches the published OpenAPI document.
    checker = Checker(client, world)
    checker.call("GET", f"{url}/worklist", "reviewer", 200)
    checker.call("GET", f"{url}/worklist", "doctor", 403)
    checker.call("POST", f"{url}/findings/{visit.id}", "reviewer", 422, {"finding": "maybe"})
    (item,) = client.get(f"{url}/worklist", headers=world.auth("reviewer")).get_json()
    assert (item["visit_id"], item["finding"], item["why"]) == (visit.id, None, "rule:late_entry")
    assert client.get(f"{url}/worklist", headers=world.auth("doctor")).status_code == 403
    bad = client.post(
        f"{url}/findings/{visit.id}", json={"finding": "maybe"}, headers=world.auth("reviewer")
    )
    assert bad.status_code == 422 and "finding" in bad.get_json()["errors"]
    done = checker.call(
        "POST",
        f"{url}/findings/{visit.id}",
        "reviewer",
        200,
        {"finding": "disallowed", "reason": "无处方", "amount": "0.50"},
    )
    assert done.get_json()["adjustments"][0]["amount"] == "-0.50"
    assert api(client, world, "reviewer", "review", "HD002").get_json()["status"] == "reviewed"

    record(world, clock())
    assert auto_submit(HUADU, dt.date(2026, 10, 5), clock()) == ["HD001"]
    pulled = checker.call("POST", f"/api/v1/statements/HD001/{SEPT}/pull-back", "doctor", 200)
    assert pulled.get_json()["status"] == "open"
    checker.call("POST", f"/api/v1/statements/HD002/{SEPT}/pull-back", "doctor2", 409)
