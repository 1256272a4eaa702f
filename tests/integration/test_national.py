"""What the insurance platform needs (issue 19): the consultation kind, national catalogue
fields, diagnoses, practitioner codes — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, update

from app.auth.models import User
from app.catalog.models import CatalogItem, Diagnosis, ItemPrice
from app.database import unit_of_work
from app.extensions import db
from app.policy.models import PolicyVersion
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


# --- diagnoses ------------------------------------------------------------------------

DIAGNOSES_HEADER = "code,name,system,valid_from,valid_to\n"


def test_import_diagnoses_all_or_nothing_and_idempotent(app: Flask, tmp_path: Path) -> None:
    good = DIAGNOSES_HEADER + (
        "J06.900,急性上呼吸道感染,western,2019-01-01,\n"
        "I10.x00,高血压,western,2019-01-01,\n"
        "A01.000+G01*,伤寒性脑膜炎,western,2019-01-01,2030-12-31\n"
        "BNW010,感冒病,tcm,2019-01-01,\n"
    )
    path = tmp_path / "diagnoses.csv"
    path.write_text(good, encoding="utf-8-sig")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["import-data", "diagnoses", str(path)])
    assert first.exit_code == 0, first.output
    assert "4 rows, 4 added, 0 updated, 0 unchanged" in first.stdout
    again = runner.invoke(args=["import-data", "diagnoses", str(path)])
    assert "4 rows, 0 added, 0 updated, 4 unchanged" in again.stdout
    row = db.session.scalar(select(Diagnosis).where(Diagnosis.code == "J06.900"))
    assert row is not None and (row.name, row.system, row.pinyin) == (
        "急性上呼吸道感染",
        "western",
        "jxshxdgr",
    )
    db.session.rollback()
    renamed = good.replace("高血压,", "原发性高血压,")
    path.write_text(renamed, encoding="utf-8")
    changed = runner.invoke(args=["import-data", "diagnoses", str(path)])
    assert "4 rows, 0 added, 1 updated, 3 unchanged" in changed.stdout
    row = db.session.scalar(select(Diagnosis).where(Diagnosis.code == "I10.x00"))
    assert row is not None and row.pinyin == "yfxgxy"
    db.session.rollback()

    bad = DIAGNOSES_HEADER + (
        "K29.700,胃炎,western,2019-01-01,\n"
        "J06.900,急性上呼吸道感染,modern,2019-01-01,\n"
        "J 06,,western,2019-13-01,\n"
        "K29.700,胃炎,western,2019-01-01,\n"
        "M54.500,腰痛,western,2019-01-01,2018-12-31\n"
    )
    path.write_text(bad, encoding="utf-8")
    refused = runner.invoke(args=["import-data", "diagnoses", str(path)])
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[:-1] == [
        f"{path}:3: system: must be one of western, tcm, not 'modern'",
        f"{path}:4: code: must be a diagnosis code such as J06.900, not 'J 06'",
        f"{path}:4: name: is required",
        f"{path}:4: valid_from: must be a date like 2026-01-31, not '2019-13-01'",
        f"{path}:5: code: diagnosis code repeats line 2",
        f"{path}:6: valid_to: must not be before 2019-01-01",
    ]
    assert db.session.scalar(select(func.count()).select_from(Diagnosis)) == 4


def test_import_thousands_of_diagnoses_quickly(app: Flask, tmp_path: Path) -> None:
    rows = "".join(
        f"Z{n // 1000:02d}.{n % 1000:03d},诊断名称第{n}号,western,2019-01-01,\n"
        for n in range(20000)
    )
    path = tmp_path / "diagnoses.csv"
    path.write_text(DIAGNOSES_HEADER + rows, encoding="utf-8")
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["import-data", "diagnoses", str(path)])
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "20000 rows, 20000 added" in result.stdout
    started = time.perf_counter()
    again = runner.invoke(args=["import-data", "diagnoses", str(path)])
    assert "20000 unchanged" in again.stdout
    # Generous bounds for a loaded two-core machine; the point is no row-by-row work.
    assert took < 60 and time.perf_counter() - started < 30


def api_visit(client: FlaskClient, world: World, **changes: Any) -> Any:
    return post_visit(client, world, visit_body(world, **changes))


def test_a_visit_carries_its_diagnoses(client: FlaskClient, world: World) -> None:
    saved = api_visit(client, world, diagnoses=["J06.900", "I10.x00"])
    assert saved.status_code == 201, saved.json
    assert saved.json["diagnoses"] == [
        {"code": "J06.900", "name": "急性上呼吸道感染", "main": True},
        {"code": "I10.x00", "name": "高血压", "main": False},
    ]
    visit = db.session.get(Visit, saved.json["id"])
    assert visit is not None
    assert (visit.main_diagnosis, visit.diagnoses) == ("J06.900", "J06.900,I10.x00")
    shown = client.get(f"/api/v1/visits/{visit.id}", headers=world.auth("doctor"))
    assert shown.json["diagnoses"] == saved.json["diagnoses"]
    quote = client.post(
        "/api/v1/visits/quote",
        json=visit_body(world, diagnoses=["TCM001"]),
        headers=world.auth("doctor"),
    )
    assert quote.json["diagnoses"] == [{"code": "TCM001", "name": "感冒病", "main": True}]
    # Without diagnoses (the policy does not require one): none.
    plain = api_visit(client, world)
    assert plain.status_code == 201 and plain.json["diagnoses"] == []


@pytest.mark.parametrize(
    ("diagnoses", "field", "code"),
    [
        (["X99.999"], "diagnoses[0]", "unknown_diagnosis"),
        (["J06.900", "J11.100"], "diagnoses[1]", "diagnosis_not_valid"),  # ended 2025
        (["J06.900", "I10.x00", "J06.900"], "diagnoses[2]", "diagnosis_repeated"),
        (
            ["J06.900", "I10.x00", "E11.900", "K29.700", "M54.500", "TCM001"],
            "diagnoses",
            "too_many_diagnoses",
        ),
    ],
)
def test_bad_diagnoses_are_refused_naming_the_field(
    client: FlaskClient, world: World, diagnoses: list[str], field: str, code: str
) -> None:
    refused = api_visit(client, world, diagnoses=diagnoses)
    assert refused.status_code == 422, refused.json
    assert refused.json["codes"][field] == code
    assert refused.json["errors"][field]
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0


def test_a_diagnosis_code_of_the_wrong_shape_is_a_400(client: FlaskClient, world: World) -> None:
    refused = api_visit(client, world, diagnoses=[12])
    assert refused.status_code in (400, 422)
    assert any(name.startswith("diagnoses") for name in refused.json["errors"])


def test_require_diagnosis(client: FlaskClient, world: World) -> None:
    with unit_of_work() as session:
        session.execute(update(PolicyVersion).values(require_diagnosis=True))
    refused = api_visit(client, world)
    assert refused.status_code == 422
    assert refused.json["codes"] == {"diagnoses": "no_diagnosis"}
    assert api_visit(client, world, diagnoses=["K29.700"]).status_code == 201


@pytest.mark.usefixtures("request_scoped_g")
def test_diagnoses_on_receipt_register_statement_and_exports(
    client: FlaskClient, world: World, tmp_path: Path, clock: FixedClock
) -> None:
    record(world, clock(), lines=(("DX001", "1"),), diagnoses=("J06.900", "I10.x00"))
    at = dt.datetime(2026, 9, 11, 2, 0, tzinfo=dt.UTC)
    record(world, clock(), at=at, lines=(("DX001", "1"),), diagnoses=("J06.900",))
    record(world, clock(), at=at, lines=(("DX001", "1"),), diagnoses=("K29.700",))
    record(world, clock(), at=at, lines=(("DX001", "1"),))  # no diagnosis
    visit = db.session.scalar(select(Visit).order_by(Visit.id))
    assert visit is not None
    auth = world.auth("doctor")

    csrf = login(client)
    assert csrf
    receipt = text_of(client.get(f"/visits/{visit.id}/receipt").text)
    assert "J06.900 急性上呼吸道感染；I10.x00 高血压" in receipt
    words = pdf_text(client.get(f"/visits/{visit.id}/receipt.pdf").data, tmp_path)
    assert "J06.900急性上呼吸道感染；I10.x00高血压" in words

    register = client.post(
        "/visits/register",
        data={"csrf_token": csrf, "date_from": "2026-09-01", "date_to": "2026-09-30"},
    )
    assert "J06.900 急性上呼吸道感染；I10.x00 高血压" in text_of(register.text)

    detail = client.get("/api/v1/statements/HD001/2026-09/visits.csv", headers=auth)
    assert detail.status_code == 200
    lines = detail.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[6] == "诊断"
    assert "J06.900 急性上呼吸道感染；I10.x00 高血压" in lines[1]

    statement = client.get("/api/v1/statements/HD001/2026-09.csv", headers=auth)
    text = statement.get_data(as_text=True)
    assert "诊断编码,诊断名称,人次\r\nJ06.900,急性上呼吸道感染,2\r\nK29.700,胃炎,1" in text
    pdf = pdf_text(client.get("/api/v1/statements/HD001/2026-09.pdf", headers=auth).data, tmp_path)
    # 4 visits: J06.900 on 2 of them (50.0%), K29.700 on 1 (25.0%).
    # (pdftotext reads the table by columns.)
    assert "四、主要诊断" in pdf and "J06.900急性上呼吸道感染K29.700胃炎" in pdf
    assert "250.0%125.0%" in pdf


# --- practitioner codes --------------------------------------------------------------


def test_users_create_with_a_practitioner_code(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    args = ["users", "create", "wang", "--role", "doctor", "--clinic", "HD002"]
    args += ["--display-name", "王建华", "--password-stdin"]
    created = runner.invoke(
        args=[*args, "--practitioner-code", "D440114000123"], input="long-password\n"
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(args=["users", "list"])
    line = next(row for row in listed.stdout.splitlines() if row.startswith("wang "))
    assert "王建华" in line and "practitioner D440114000123" in line
    again = runner.invoke(
        args=[
            "users",
            "create",
            "li",
            "--role",
            "doctor",
            "--clinic",
            "HD002",
            "--password-stdin",
            "--practitioner-code",
            "D440114000123",
        ],
        input="long-password\n",
    )
    assert again.exit_code == 1 and "practitioner_code: is already another user's" in again.stderr
    bad = runner.invoke(
        args=[
            "users",
            "create",
            "li",
            "--role",
            "doctor",
            "--clinic",
            "HD002",
            "--password-stdin",
            "--practitioner-code",
            "D 44",
        ],
        input="long-password\n",
    )
    assert (
        bad.exit_code == 1 and "practitioner_code: must be 1 to 30 letters and digits" in bad.stderr
    )


def give_the_doctor_a_code() -> None:
    with unit_of_work() as session:
        session.execute(
            update(User)
            .where(User.username == "doctor")
            .values(display_name="王建华", practitioner_code="D440114000001")
        )


@pytest.mark.usefixtures("request_scoped_g")
def test_a_visit_records_the_doctors_code_and_papers_show_his_name(
    client: FlaskClient, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    give_the_doctor_a_code()
    saved = api_visit(client, world)
    assert saved.status_code == 201, saved.json
    assert saved.json["practitioner_code"] == "D440114000001"
    visit = db.session.get(Visit, saved.json["id"])
    assert visit is not None and visit.practitioner_code == "D440114000001"
    shown = client.get(f"/api/v1/visits/{visit.id}", headers=world.auth("doctor"))
    assert shown.json["practitioner_code"] == "D440114000001"

    csrf = login(client)
    day = visit.visit_date.isoformat()
    sheet = text_of(client.get(f"/visits/daily?day={day}").text)
    assert "医师：王建华（D440114000001）" in sheet
    closed = client.post("/visits/daily/close", data={"csrf_token": csrf, "day": day})
    assert closed.status_code == 303
    sheet = client.get(f"/visits/daily?day={day}").text
    assert "王建华（D440114000001）" in text_of(sheet.split('id="close-status"')[1][:400])
    daily_pdf = pdf_text(client.get(f"/visits/daily.pdf?day={day}").data, tmp_path)
    assert "医师：王建华（D440114000001）" in daily_pdf
    register = text_of(client.get("/visits/register").text)
    assert "王建华（D440114000001）" in register
    month = visit.month
    auth = world.auth("doctor")
    statement = pdf_text(
        client.get(f"/api/v1/statements/HD001/{month}.pdf", headers=auth).data, tmp_path
    )
    assert "医师王建华（D440114000001）" in statement
    for page in (sheet, register):
        assert ">doctor<" not in page and " doctor " not in text_of(page).replace("Doctor", "")
