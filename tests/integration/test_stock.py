"""Drug stock (issue 26 §4): deliveries imported, dispensing off the visits, counts, the
monthly statement (page, API, PDF, XLSX) and its flags on the reviewer's worklist."""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.oversight.models import ReviewItem
from app.periods.models import Statement
from app.settlement.operations import submit_statement
from app.stock.models import StockDelivery, StockTake
from tests.conftest import FixedClock
from tests.factories import World, build_world, set_oversight_policy

HEADER = "clinic,date,item,batch_number,expiry,quantity,price,supplier,approval_number"
CODE_A = "81234567890123456789"
CODE_B = "81234567890123456790"


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    @app.before_request
    def _fresh_g() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)

    return build_world(clock())


def run(app: Flask, tmp_path: Path, text: str) -> tuple[int, str, str]:
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-data", "deliveries", str(path)])
    db.session.rollback()
    return result.exit_code, result.stdout, result.stderr.replace(str(path), "F")


def visit(
    client: FlaskClient, world: World, quantity: str, codes: list[str] | None = None, **kw: Any
) -> Any:
    line: dict[str, Any] = {"item": "AMX01", "quantity": quantity}
    if codes is not None:
        line["trace_codes"] = codes
    body = {
        "clinic": kw.get("clinic", "HD001"),
        "patient_id_number": world.ids["insured_village"],
        "lines": [{"item": "DX001", "quantity": "1"}, line],
    }
    headers = {**world.auth(kw.get("user", "doctor")), "Idempotency-Key": uuid.uuid4().hex}
    return client.post("/api/v1/visits", json=body, headers=headers)


def test_deliveries_import_is_checked_whole_and_idempotent(
    app: Flask, world: World, tmp_path: Path
) -> None:
    bad = (
        HEADER
        + "\nHD009,2026-10-01,AMX01,B1,2028-01-01,100,0.20,广药,国药准字H1"
        + "\nHD001,2026-10-01,NOPE,B1,2028-01-01,100,0.20,广药,国药准字H1"
        + "\nHD001,2026-10-01,HY001,B1,2028-01-01,100,0.20,广药,国药准字H1"
        + "\nHD001,2026-10-01,AMX01,B1,2026-09-01,100,0.20,广药,国药准字H1"
        + "\nHD001,2026-10-01,AMX01,B2,2028-01-01,0,0.20,广药,国药准字H1"
        + "\nHD001,2026-10-02,AMX01,B3,2028-01-01,100,0.20,广药,国药准字H1"
        + "\nHD001,2026-10-02,AMX01,B3,2028-01-01,100,0.20,广药,国药准字H1\n"
    )
    code, _, err = run(app, tmp_path, bad)
    assert code == 1
    assert "F:2: clinic: unknown clinic HD009" in err
    assert "F:3: item: unknown catalogue item NOPE" in err
    assert "F:4: item: HY001 is not a drug or a material" in err
    assert "F:5: expiry: is before the delivery date 2026-10-01" in err
    assert "F:6: quantity: quantity must be greater than zero" in err
    assert "F:8: batch_number: delivery repeats line 7" in err
    assert db.session.scalars(select(StockDelivery)).all() == []

    good = (
        HEADER
        + ",national_code\nHD001,2026-10-01,AMX01,B1,2028-01-01,20,0.20,广药,国药准字H1,"
        + "XJ01CAA040A001010100483\n"
    )
    code, out, err = run(app, tmp_path, good)
    assert code == 0, err
    assert "1 rows, 1 added" in out
    assert "1 rows, 0 added, 0 updated, 1 unchanged" in run(app, tmp_path, good)[1]
    code, out, _ = run(app, tmp_path, good.replace(",20,0.20,", ",30,0.20,"))
    assert "1 updated" in out
    (row,) = db.session.scalars(select(StockDelivery)).all()
    assert (row.quantity, row.price, row.amount) == (30_000, 20, 600)
    assert row.national_code == "XJ01CAA040A001010100483"


def user(name: str) -> User:
    return db.session.scalars(select(User).where(User.username == name)).one()


def test_dispensing_beyond_deliveries_and_a_pack_sold_twice_are_flagged(
    app: Flask, world: World, client: FlaskClient, tmp_path: Path, clock: FixedClock
) -> None:
    set_oversight_policy(review=True)
    delivered = HEADER + "\nHD001,2026-10-01,AMX01,B1,2028-01-01,20,0.20,广药,国药准字H1\n"
    assert run(app, tmp_path, delivered)[0] == 0
    first = visit(client, world, "12", [CODE_A])
    assert first.status_code == 201, first.json
    clock.advance(hours=1)
    second = visit(client, world, "12", [CODE_B])
    assert second.status_code == 201
    # The same pack again, at another clinic: recorded, and flagged at both.
    again = visit(client, world, "6", [CODE_A], clinic="HD002", user="doctor2")
    assert again.status_code == 201
    # A code twice in one visit is refused, naming the line and the code.
    twice = visit(client, world, "6", [CODE_B, CODE_B])
    assert twice.status_code == 422
    assert "lines[1].trace_codes[1]" in twice.json["errors"]
    bad = visit(client, world, "6", ["123"])
    assert bad.status_code == 422

    resp = client.get("/api/v1/stock/HD001/2026-10", headers=world.auth("reviewer"))
    assert resp.status_code == 200, resp.json
    (row,) = resp.json["rows"]
    assert row["fixmedins_hilist_id"] == "AMX01"
    assert (row["opening"], row["purchased"], row["sold"], row["closing"]) == (
        "0",
        "20",
        "24",
        "-4",
    )
    assert row["purchase_amount"] == "4.00"
    flags = {(f["kind"], tuple(f["visits"])) for f in resp.json["flags"]}
    assert ("dispensed_over_delivered", (second.json["id"],)) in flags
    assert ("trace_code_twice", (first.json["id"], again.json["id"])) in flags
    other = client.get("/api/v1/stock/HD002/2026-10", headers=world.auth("doctor2")).json
    assert other["rows"] == []  # HD002 keeps no stock here: only the pack is flagged
    assert [f["trace_code"] for f in other["flags"]] == [CODE_A]
    assert (
        client.get("/api/v1/stock/HD002/2026-10", headers=world.auth("doctor")).status_code == 403
    )

    # The page, in Chinese, and the files.
    login(client, "reviewer")
    page = client.get("/stock/HD001/2026-10").text
    assert "药品进销存" in page and "发出多于库存" in page and CODE_A in page
    assert second.json["receipt_number"] in page
    pdf = client.get("/stock/HD001/2026-10.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    pdf_text = pdftext(pdf.data, tmp_path)
    assert "药品进销存月报表" in pdf_text and "采购入库(3503)" in pdf_text
    assert second.json["receipt_number"] in pdf_text
    book = load_workbook(io.BytesIO(client.get("/stock/HD001/2026-10.xlsx").data))
    sheet = book["进销存"]
    assert [c.value for c in sheet[2]][1:3] == ["AMX01", "阿莫西林胶囊"]
    assert float(sheet[2][9].value) == -4

    # Submitted: not trusted, and the visits behind the flags are on the worklist.
    clock.advance(days=20)
    submit_statement("HD001", "2026-10", user("doctor"), clock())
    statement = db.session.scalars(
        select(Statement).where(Statement.clinic_id == world.clinic.id)
    ).one()
    assert statement.status == "submitted"
    whys = dict(
        db.session.execute(
            select(ReviewItem.visit_id, ReviewItem.why).where(
                ReviewItem.statement_id == statement.id
            )
        ).all()
    )
    assert "rule:dispensed_over_delivered" in whys[second.json["id"]]
    assert "rule:trace_code_twice" in whys[first.json["id"]]
    login(client, "reviewer")  # the session ended while the month did
    review_page = client.get("/statements/HD001/2026-10").text
    assert "发药多于库存" in review_page and "药品进销存" in review_page


def test_a_count_brings_the_book_to_what_is_on_the_shelf(
    app: Flask, world: World, client: FlaskClient, tmp_path: Path
) -> None:
    delivered = HEADER + "\nHD001,2026-10-01,AMX01,B1,2028-01-01,20,0.20,广药,国药准字H1\n"
    assert run(app, tmp_path, delivered)[0] == 0
    assert visit(client, world, "24").status_code == 201
    body = {"item": "AMX01", "taken_on": "2026-10-15", "counted": "0", "note": "盘点"}
    resp = client.post("/api/v1/stock/HD001/takes", json=body, headers=world.auth("doctor"))
    assert resp.status_code == 201, resp.json
    assert (resp.json["book"], resp.json["adjustment"]) == ("-4", "4")
    again = client.post("/api/v1/stock/HD001/takes", json=body, headers=world.auth("doctor"))
    assert again.status_code == 409
    future = {**body, "taken_on": "2026-10-16"}
    refused = client.post("/api/v1/stock/HD001/takes", json=future, headers=world.auth("doctor"))
    assert refused.status_code == 422 and "taken_on" in refused.json["errors"]
    service = {**body, "item": "HY001"}
    refused = client.post("/api/v1/stock/HD001/takes", json=service, headers=world.auth("doctor"))
    assert refused.status_code == 422 and "item" in refused.json["errors"]
    assert (
        client.post("/api/v1/stock/HD001/takes", json=body, headers=world.auth("reviewer"))
    ).status_code == 403
    statement = client.get("/api/v1/stock/HD001/2026-10", headers=world.auth("doctor")).json
    (row,) = statement["rows"]
    assert (row["stocktake_adjustment"], row["closing"]) == ("4", "0")
    assert statement["flags"] == []
    (take,) = db.session.scalars(select(StockTake)).all()
    assert take.counted == 0 and take.book == -4_000

    # The doctor counts from the page too.
    login(client, "doctor")
    page = client.get("/stock/HD001/2026-10").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    form = {"csrf_token": token.group(1), "item": "AMX01", "taken_on": "2026/10/14"}
    done = client.post("/stock/HD001/2026-10/takes", data={**form, "counted": "3"})
    assert done.status_code == 302
    assert "盘存已记录" in client.get(done.location).text


def login(client: FlaskClient, username: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    data = {"username": username, "password": "secret-pass", "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302
    g.pop("csrf_token", None)


def pdftext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "stock.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_stock_endpoints_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/stock/{clinic}/{month}", "/api/v1/stock/{clinic}/takes"} <= set(paths)
    line = client.get("/api/v1/openapi.json").json["components"]["schemas"]["LineIn"]
    assert "trace_codes" in line["properties"]


def _stock_far_above(multiple: str) -> None:
    """Huadu's policy version with ``[flags] stock_far_above`` (issue 26 §4)."""
    from dataclasses import replace
    from fractions import Fraction

    from app.checks.rules import oversight_from_json, oversight_to_json
    from app.database import unit_of_work
    from app.policy.models import PolicyVersion

    with unit_of_work() as s:
        version = s.scalars(select(PolicyVersion)).one()
        policy = oversight_from_json(version.oversight)
        assert policy.flags is not None
        flags = replace(policy.flags, stock_far_above=Fraction(multiple))
        version.oversight = oversight_to_json(replace(policy, flags=flags))


def test_stock_flags_are_stored_and_shown_on_the_reviewers_board(
    app: Flask, world: World, client: FlaskClient, tmp_path: Path, clock: FixedClock
) -> None:
    """Issue 26 §4: "far above the deliveries" is on the board like the peer flags."""
    from app.oversight.models import ClinicFlag

    set_oversight_policy(review=False)
    _stock_far_above("2")
    delivered = HEADER + "\nHD001,2026-10-01,AMX01,B1,2028-01-01,10,0.20,广药,国药准字H1\n"
    assert run(app, tmp_path, delivered)[0] == 0
    for _ in range(3):  # 30 dispensed against 10 delivered: far above twice the deliveries
        assert visit(client, world, "10").status_code == 201
        clock.advance(hours=1)
    clock.advance(days=20)
    submit_statement("HD001", "2026-10", user("doctor"), clock())

    def stored() -> dict[str, str]:
        return dict(
            db.session.execute(
                select(ClinicFlag.figure, ClinicFlag.value).where(
                    ClinicFlag.clinic_id == world.clinic.id, ClinicFlag.month == "2026-10"
                )
            ).all()
        )

    flags = stored()
    assert Fraction(flags["dispensed_far_above"]) == 3  # every visit dispensed AMX01
    assert "dispensed_over_delivered" in flags
    # The district-wide recomputation cannot see the stock: it keeps those flags.
    result = app.test_cli_runner().invoke(
        args=["oversight", "flags", "--district", "440114", "--month", "2026-10"]
    )
    assert result.exit_code == 0, result.output
    assert "dispensed_far_above" in stored()

    login(client, "reviewer")
    board = client.get("/board?month=2026-10").text
    assert "发药远超进货：涉及 3 次就诊" in board
    rows = re.findall(r'data-clinic="([^"]+)"', board)
    assert rows[0] == "HD001"  # flagged first
    assert 'href="/stock/HD001/2026-10"' in board
    # The flagged-visits page sends a stock flag to the stock statement, which lists them.
    page = client.get("/oversight/clinics/HD001/2026-10/visits?figure=dispensed_far_above")
    assert page.status_code == 302 and page.location.endswith("/stock/HD001/2026-10")
