"""Checks at recording (事前审核) end to end, on SQLite and PostgreSQL.

Each rule through the API, set to block (refused, nothing saved) and to warn
(refused without the doctor's reason, saved and stored with it); the quote
shows the hits; the policy's ``[checks]`` table; the catalogue's columns.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.catalog.models import CatalogItem
from app.checks.rules import OversightPolicy, Rule, Severity, oversight_to_json
from app.database import unit_of_work
from app.extensions import db
from app.policy.models import PolicyVersion
from app.publishing.operations import PolicyRejected, read_policy_file
from app.visits.models import Visit, VisitCheck
from tests.conftest import FixedClock
from tests.factories import World, build_world

LINES = [
    {"item": "DX001", "quantity": "1"},
    {"item": "AMX01", "quantity": "12"},
    {"item": "FFGC1", "quantity": "1"},
]


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


# The demo file's thresholds, unless a test sets its own.
THRESHOLDS = {"frequent_visits_max": 4, "frequent_visits_days": 7, "late_entry_hours": 72}


def configure(severity: Severity, *rules: Rule, **thresholds: int) -> None:
    with unit_of_work() as s:
        version = s.scalars(select(PolicyVersion)).one()
        policy = OversightPolicy(
            severities=dict.fromkeys(rules, severity),
            **{**THRESHOLDS, **thresholds},  # type: ignore[arg-type]
        )
        version.oversight = oversight_to_json(policy)


def item_columns(code: str, **columns: Any) -> None:
    with unit_of_work() as s:
        item = s.scalars(select(CatalogItem).where(CatalogItem.code == code)).one()
        for key, value in columns.items():
            setattr(item, key, value)


def body(world: World, **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "clinic": "HD001",
        "patient_id_number": world.ids["insured_village"],
        "injection": False,
        "lines": [dict(line) for line in LINES],
    }
    result.update(changes)
    return result


def post(client: FlaskClient, world: World, data: dict[str, Any], user: str = "doctor") -> Any:
    headers = {**world.auth(user), "Idempotency-Key": uuid.uuid4().hex}  # a new visit each time
    return client.post("/api/v1/visits", json=data, headers=headers)


def visits() -> int:
    n = db.session.scalar(select(func.count()).select_from(Visit)) or 0
    db.session.rollback()
    return n


def local(clock: FixedClock, **delta: float) -> str:
    return (clock() - dt.timedelta(**delta)).isoformat()


def _patient_sex(world: World) -> str:
    return "M" if int(world.ids["insured_village"][16]) % 2 else "F"


def arrange(rule: Rule, client: FlaskClient, world: World, clock: FixedClock) -> tuple[dict, str]:
    """Set the catalogue and history up so ``rule`` fires: (the request, the field it names)."""
    if rule is Rule.QUANTITY_OVER_MAX:
        item_columns("AMX01", max_per_visit=10000)
        return body(world), "lines[1].item"
    if rule is Rule.FREQUENT_VISITS:
        for days in (3, 2):
            assert (
                post(client, world, body(world, visited_at=local(clock, days=days))).status_code
                == 201
            )
        return body(world), "visit"
    if rule is Rule.SPLIT_VISIT:
        assert post(client, world, body(world, visited_at=local(clock, hours=1))).status_code == 201
        return body(world), "visit"
    if rule is Rule.EARLY_REFILL:
        item_columns("AMX01", units_per_day=3000)  # 12 capsules: four days
        assert post(client, world, body(world, visited_at=local(clock, days=2))).status_code == 201
        return body(world), "lines[1].item"
    if rule is Rule.INJECTION_WITHOUT_INJECTABLE:
        return body(world, injection=True), "visit"
    if rule is Rule.INJECTABLE_WITHOUT_INJECTION:
        item_columns("FFGC1", injectable=True)
        return body(world), "lines[2].item"
    if rule is Rule.UNSUITED_ITEM:
        item_columns("FFGC1", sex="F" if _patient_sex(world) == "M" else "M")
        return body(world), "lines[2].item"
    if rule is Rule.NO_DIAGNOSIS:
        return body(world), "visit"
    if rule is Rule.OFF_INDICATION:
        item_columns("AMX01", indications="J06 J20 J40")  # not for gastritis
        return body(world, diagnoses=["K29.700"]), "lines[1].item"
    if rule is Rule.UNSUITED_DIAGNOSIS:
        code = "N76.000" if _patient_sex(world) == "M" else "N41.000"
        return body(world, diagnoses=[code]), "visit"
    assert rule is Rule.LATE_ENTRY
    return body(world, visited_at=local(clock, hours=80)), "visit"


THRESHOLDS = {"frequent_visits_max": 2, "frequent_visits_days": 7, "late_entry_hours": 72}


@pytest.mark.parametrize("rule", list(Rule))
def test_a_blocking_rule_refuses_and_saves_nothing(
    client: FlaskClient, world: World, clock: FixedClock, rule: Rule
) -> None:
    request, field = arrange(rule, client, world, clock)
    configure(Severity.BLOCK, rule, **THRESHOLDS)
    before = visits()
    resp = post(client, world, dict(request, warning_reason="病情需要"))
    assert resp.status_code == 422, resp.json
    assert resp.json["codes"][field] == f"check_{rule.value}"
    assert visits() == before
    assert db.session.scalar(select(func.count()).select_from(VisitCheck)) == 0


@pytest.mark.parametrize("rule", list(Rule))
def test_a_warning_needs_the_reason_and_is_stored(
    client: FlaskClient, world: World, clock: FixedClock, rule: Rule
) -> None:
    request, field = arrange(rule, client, world, clock)
    configure(Severity.WARN, rule, **THRESHOLDS)
    before = visits()

    quote = client.post("/api/v1/visits/quote", json=request, headers=world.auth("doctor"))
    assert quote.status_code == 200, quote.json
    assert [(c["rule"], c["severity"], c["field"]) for c in quote.json["checks"]] == [
        (rule.value, "warn", field)
    ]

    refused = post(client, world, request)
    assert refused.status_code == 422, refused.json
    assert refused.json["codes"]["warning_reason"] == "warning_reason_required"
    assert refused.json["codes"][field] == f"check_{rule.value}"
    assert visits() == before

    saved = post(client, world, dict(request, warning_reason="  患者外出务工，多带药 "))
    assert saved.status_code == 201, saved.json
    assert visits() == before + 1
    [check] = saved.json["checks"]
    assert (check["rule"], check["severity"], check["field"], check["reason"]) == (
        rule.value,
        "warn",
        field,
        "患者外出务工，多带药",
    )
    stored = db.session.scalars(select(VisitCheck)).one()
    version_id = db.session.scalar(select(PolicyVersion.id))
    assert (stored.visit_id, stored.rule, stored.reason, stored.policy_version_id) == (
        saved.json["id"],
        rule.value,
        "患者外出务工，多带药",
        version_id,
    )
    assert json.loads(stored.facts) == check["facts"]
    db.session.rollback()
    again = client.get(f"/api/v1/visits/{saved.json['id']}", headers=world.auth("doctor"))
    assert again.json["checks"] == saved.json["checks"]


def test_no_checks_no_hits_and_no_reason_needed(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    item_columns("AMX01", max_per_visit=1000)  # would fire, but the policy has no [checks]
    quote = client.post("/api/v1/visits/quote", json=body(world), headers=world.auth("doctor"))
    assert quote.json["checks"] == []
    resp = post(client, world, body(world))
    assert resp.status_code == 201
    assert resp.json["checks"] == []


def test_quote_shows_blocks_and_warnings_together(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    item_columns("AMX01", max_per_visit=10000)
    with unit_of_work() as s:
        version = s.scalars(select(PolicyVersion)).one()
        version.oversight = oversight_to_json(
            OversightPolicy(
                severities={
                    Rule.QUANTITY_OVER_MAX: Severity.BLOCK,
                    Rule.INJECTION_WITHOUT_INJECTABLE: Severity.WARN,
                }
            )
        )
    quote = client.post(
        "/api/v1/visits/quote", json=body(world, injection=True), headers=world.auth("doctor")
    )
    assert [(c["rule"], c["severity"], c["item"]) for c in quote.json["checks"]] == [
        ("quantity_over_max", "block", "AMX01"),
        ("injection_without_injectable", "warn", None),
    ]
    assert quote.json["checks"][0]["facts"] == {"quantity": "12000", "maximum": "10000"}
    assert "over the maximum of 10 per visit" in quote.json["checks"][0]["message"]


def test_a_voided_visit_does_not_count(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    configure(Severity.BLOCK, Rule.SPLIT_VISIT)
    first = post(client, world, body(world, visited_at=local(clock, hours=1)))
    assert first.status_code == 201
    void = client.post(
        f"/api/v1/visits/{first.json['id']}/void",
        json={"reason": "录入错误"},
        headers=world.auth("doctor"),
    )
    assert void.status_code == 200, void.json
    assert post(client, world, body(world)).status_code == 201


def test_split_visit_is_per_clinic(client: FlaskClient, world: World, clock: FixedClock) -> None:
    configure(Severity.BLOCK, Rule.SPLIT_VISIT)
    assert post(client, world, body(world, visited_at=local(clock, hours=1))).status_code == 201
    other = post(client, world, body(world, clinic="HD002"), user="doctor2")
    assert other.status_code == 201, other.json


# --- the policy's [checks] ---------------------------------------------------------------

POLICY = """\
district = "440114"
effective_from = 2026-01-01
registration_fee = "1.00"
injection_fee = "1.00"
fund_ratio = "0.70"
fund_deductible = "0.00"
fund_annual_cap = "600.00"
class_b_selfpay_ratio = "0.10"
class_b_selfpay_backstopped = true
require_insured = true
"""


def test_policy_checks_table_is_read() -> None:
    text = POLICY + '[checks]\nsplit_visit = "block"\nlate_entry = "warn"\nlate_entry_hours = 48\n'
    policy = read_policy_file(text.encode(), "p.toml").policy
    assert policy.oversight == OversightPolicy(
        severities={Rule.SPLIT_VISIT: Severity.BLOCK, Rule.LATE_ENTRY: Severity.WARN},
        late_entry_hours=48,
    )
    assert read_policy_file(POLICY.encode(), "p.toml").policy.oversight == OversightPolicy()


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('split_visit = "stop"', "checks.split_visit"),
        ("split_visit = true", "checks.split_visit"),
        ('no_such_rule = "warn"', "checks.no_such_rule"),
        ("late_entry_hours = 0", "checks.late_entry_hours"),
        ('frequent_visits_max = "4"', "checks.frequent_visits_max"),
        ('late_entry = "warn"', "checks.late_entry_hours"),
        ('frequent_visits = "block"\nfrequent_visits_max = 4', "checks.frequent_visits_days"),
    ],
)
def test_policy_checks_problems_name_the_key(table: str, key: str) -> None:
    with pytest.raises(PolicyRejected) as refused:
        read_policy_file((POLICY + "[checks]\n" + table + "\n").encode(), "p.toml")
    assert [p.field for p in refused.value.file_problems] == [key]


def test_checks_are_part_of_the_version(app: Flask, tmp_path: Path) -> None:
    from app.publishing.operations import load_policy_file

    with unit_of_work() as s:
        from app.places.models import District

        s.add(District(code="440114", name="花都区"))
    path = tmp_path / "p.toml"
    path.write_text(POLICY + '[checks]\nsplit_visit = "block"\n', encoding="utf-8")
    assert load_policy_file(path).status == "added"
    assert load_policy_file(path).status == "unchanged"
    path.write_text(POLICY + '[checks]\nsplit_visit = "warn"\n', encoding="utf-8")
    assert load_policy_file(path).status == "updated"  # no visit used it yet
    version = db.session.scalars(select(PolicyVersion)).one()
    assert version.to_policy().oversight == OversightPolicy(
        severities={Rule.SPLIT_VISIT: Severity.WARN}
    )
    db.session.rollback()


def test_demo_policy_files_have_checks() -> None:
    for path in ("demo/policy.toml", "app/demo/data/policy.toml"):
        checks = read_policy_file(Path(path).read_bytes(), path).policy.oversight
        assert checks.severity(Rule.SPLIT_VISIT) is Severity.BLOCK
        assert checks.severity(Rule.QUANTITY_OVER_MAX) is Severity.BLOCK
        assert checks.severity(Rule.LATE_ENTRY) is Severity.WARN
        assert checks.late_entry_hours == 72
        # Peer flags and credit-first review are on in the demo (issue 11), auto-submit off.
        assert checks.flags is not None and checks.flags.min_count == 3
        assert checks.review is not None and checks.review.sample_above == 10000
        assert checks.auto_submit_day is None


# --- the catalogue's columns ------------------------------------------------------------

HEADER = "code,name,kind,unit,insurance_class,price,valid_from,valid_to"


def _import(app: Flask, tmp_path: Path, text: str) -> Any:
    path = tmp_path / "catalog.csv"
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["import-data", "catalog", str(path)])


def _columns(code: str) -> tuple[Any, ...]:
    item = db.session.scalars(select(CatalogItem).where(CatalogItem.code == code)).one()
    result = (
        item.max_per_visit,
        item.units_per_day,
        item.injectable,
        item.sex,
        item.min_age,
        item.max_age,
    )
    db.session.rollback()
    return result


def test_catalogue_with_and_without_the_check_columns(app: Flask, tmp_path: Path) -> None:
    extra = ",max_per_visit,units_per_day,injectable,sex,min_age,max_age"
    new = _import(
        app,
        tmp_path,
        HEADER + extra + "\n"
        "Y001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,,36,3,,,,\n"
        "Z004,注射用青霉素钠,drug,支,A,0.60,2016-01-01,,,,true,,,\n"
        "Y122,克霉唑阴道片,drug,片,A,1.20,2016-01-01,,6,1,false,F,14,\n",
    )
    assert new.exit_code == 0, new.output
    assert _columns("Y001") == (36000, 3000, None, None, None, None)
    assert _columns("Z004") == (None, None, True, None, None, None)
    assert _columns("Y122") == (6000, 1000, False, "F", 14, None)

    # An older file, without the columns: imports, and keeps what is stored.
    old = _import(app, tmp_path, HEADER + "\nY001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,\n")
    assert old.exit_code == 0, old.output
    assert "1 unchanged" in old.output
    assert _columns("Y001") == (36000, 3000, None, None, None, None)

    # A file with a column and an empty cell clears it.
    cleared = _import(
        app, tmp_path, HEADER + ",max_per_visit\nY001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,,\n"
    )
    assert cleared.exit_code == 0, cleared.output
    assert "1 updated" in cleared.output
    assert _columns("Y001") == (None, 3000, None, None, None, None)


def test_catalogue_check_columns_are_checked(app: Flask, tmp_path: Path) -> None:
    extra = ",max_per_visit,units_per_day,injectable,sex,min_age,max_age"
    bad = _import(
        app,
        tmp_path,
        HEADER + extra + "\nY001,阿莫西林胶囊,drug,粒,A,0.35,2016-01-01,,0,3,yes,X,20,10\n",
    )
    assert bad.exit_code != 0
    for column in ("max_per_visit", "injectable", "sex"):
        assert f":2: {column}:" in bad.output, bad.output
    assert db.session.scalar(select(func.count()).select_from(CatalogItem)) == 0


# --- the pages: terminal, receipt, statement ---------------------------------------------


@pytest.fixture
def pages(app: Flask, world: World) -> World:
    """Each test-client request with a fresh ``g`` (see test_terminal_pages)."""
    from flask import g

    @app.before_request
    def _fresh_g() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)

    return world


def _login(client: FlaskClient, username: str) -> str:
    from tests.integration.test_terminal_pages import csrf_from

    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": "secret-pass"}
    )
    assert r.status_code == 302, r.text
    return token


def test_terminal_warns_needs_a_reason_and_the_receipt_and_statement_show_it(
    client: FlaskClient, pages: World, clock: FixedClock
) -> None:
    from tests.integration.test_terminal_pages import csrf_from, field_error, form_token, save_form

    world = pages
    configure(Severity.WARN, Rule.INJECTION_WITHOUT_INJECTABLE)
    _login(client, "doctor")
    page = client.get("/visits/new").text
    data = save_form(world, csrf_from(page), form_token(page), lines=[("DX001", "1")])

    live = client.post(
        "/visits/quote",
        json={**body(world, injection=True), "lines": [{"item": "DX001", "quantity": "1"}]},
        headers={"X-CSRFToken": csrf_from(page)},
    )
    assert live.status_code == 200, live.text
    assert live.json["checks"] == [
        {
            "rule": "injection_without_injectable",
            "severity": "warn",
            "label": "提示",
            "text": "收取注射费，但没有注射用药品",
        }
    ]
    # Issue 24 §5: the split's status line says so before saving, not only after a refusal.
    assert live.json["status"] == "保存前请填写医生说明：有注射费无注射药品。"

    refused = client.post("/visits/new", data=data)
    assert refused.status_code == 422
    assert "本次就诊有事前审核提示" in refused.text
    assert "收取注射费，但没有注射用药品" in refused.text  # the list by the split
    assert visits() == 0

    saved = client.post("/visits/new", data={**data, "warning_reason": "患者自带药品注射"})
    assert saved.status_code == 303, saved.text
    receipt = client.get(saved.location).text
    assert "事前审核提示" in receipt
    assert "收取注射费，但没有注射用药品" in receipt and "患者自带药品注射" in receipt
    assert field_error(receipt, "warning_reason") == ""

    client.post("/logout", data={"csrf_token": csrf_from(receipt)})
    _login(client, "reviewer")
    statement = client.get("/statements/HD001/2026-10").text
    assert "带提示录入的就诊：1 次" in statement
    assert "有注射费无注射药品 1" in statement
    assert "患者自带药品注射" in statement

    api = client.get("/api/v1/statements/HD001/2026-10", headers=world.auth("reviewer"))
    assert api.status_code == 200, api.json
    assert api.json["checks"] == {"warned": 1, "by_rule": {"injection_without_injectable": 1}}
