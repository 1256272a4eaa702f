"""Monthly settlement end to end (SPEC §5–6, issue 4), on SQLite and PostgreSQL.

The helpers at the top (``record``, ``api``, ``advance``) are shared with the
other ``test_settlement_*`` modules.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select, text

from app.auth.models import User
from app.errors import Conflict
from app.extensions import db
from app.oversight.checks import screen
from app.settlement.figures import FIGURE_FIELDS, MONEY_FIELDS
from app.settlement.labels import document_locale, figure_labels
from app.settlement.models import Statement, StatementEvent
from app.settlement.queries import verify_statement
from app.visits.models import Visit
from app.visits.operations import LineRequest, VisitRequest, record_visit, void_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world, past_the_rollup_check

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "statements"
SEPT = "2026-09"
WORKED = (("DX001", "1"), ("AMX01", "12"), ("FFGC1", "1"), ("HY001", "1"))


# --- shared helpers ---------------------------------------------------------------


def user(username: str) -> User:
    found = db.session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def record(
    world: World,
    now: dt.datetime,
    *,
    clinic: str = "HD001",
    doctor: str = "doctor",
    patient: str = "insured_village",
    at: dt.datetime | None = dt.datetime(2026, 9, 10, 2, 0, tzinfo=dt.UTC),
    lines: tuple[tuple[str, str], ...] = WORKED,
    injection: bool = True,
    diagnoses: tuple[str, ...] = (),
) -> Visit:
    request = VisitRequest(
        clinic=clinic,
        patient_id_number=world.ids[patient],
        injection=injection,
        lines=tuple(LineRequest(item, qty) for item, qty in lines),
        visited_at=at,
        diagnoses=diagnoses,
    )
    visit, _ = record_visit(request, user(doctor), now, screen=screen)
    return visit


def api(
    client: FlaskClient,
    world: World,
    who: str,
    action: str,
    clinic: str = "HD001",
    month: str = SEPT,
    body: dict[str, Any] | None = None,
) -> Any:
    url = f"/api/v1/statements/{clinic}/{month}"
    if action == "get":
        return client.get(url, headers=world.auth(who))
    return client.post(f"{url}/{action}", json=body or {}, headers=world.auth(who))


def pay_body(due: str, **changes: Any) -> dict[str, Any]:
    return {"paid_on": "2026-10-14", "reference": "GZCZ-2026-0917", "amount": due, **changes}


def advance(client: FlaskClient, world: World, to: str, clinic: str = "HD001") -> dict[str, Any]:
    """Bring a September statement to ``to`` the legal way; the final JSON."""
    steps = ["open", "submitted", "reviewed", "paid"]
    body: dict[str, Any] = api(client, world, "doctor", "get", clinic).get_json()
    doctor = "doctor" if clinic == "HD001" else "doctor2"
    for target in steps[1 : steps.index(to) + 1]:
        if target == "submitted":
            response = api(client, world, doctor, "submit", clinic)
        elif target == "reviewed":
            response = api(client, world, "reviewer", "review", clinic)
        else:
            due = body["figures"]["fiscal"]
            response = api(client, world, "finance", "pay", clinic, body=pay_body(due))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
    assert body["status"] == to
    return body


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    return build_world(clock())


@pytest.fixture
def september(world: World, clock: FixedClock) -> list[Visit]:
    """Five September visits at HD001 over two days, one of them voided."""
    now = clock()
    visits = [
        record(world, now),
        record(world, now, patient="insured_community", injection=False),
        record(
            world,
            now,
            patient="uninsured_village",
            at=dt.datetime(2026, 9, 21, 1, 30, tzinfo=dt.UTC),
            lines=(("DX001", "1"), ("BSJ01", "2.5"), ("VC001", "10")),
        ),
        record(world, now, at=dt.datetime(2026, 9, 21, 3, 0, tzinfo=dt.UTC)),
        record(world, now, at=dt.datetime(2026, 9, 21, 3, 5, tzinfo=dt.UTC)),
    ]
    void_visit(visits[4].id, "entered twice", user("doctor"), now)
    return visits


def per_visit_sums(clinic_id: int, month: str) -> dict[str, int]:
    """The figures as the sum over the visits, computed the slow way in Python."""
    visits = db.session.scalars(
        select(Visit).where(
            Visit.clinic_id == clinic_id, Visit.month == month, Visit.voided_at.is_(None)
        )
    ).all()
    sums = {
        "visits": len(visits),
        "programme_visits": sum(v.programme for v in visits),
        "injections": sum(v.injection for v in visits),
        "injection": sum(v.injection_fee for v in visits),
    }
    for name in (
        "total",
        "in_scope",
        "fund",
        "fiscal",
        "registration",
        "copay",
        "self_pay",
        "patient",
    ):
        sums[name] = sum(getattr(v, name) for v in visits)
    db.session.rollback()
    return sums


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def as_json(sums: dict[str, int]) -> dict[str, Any]:
    return {k: (yuan(v) if k in MONEY_FIELDS else v) for k, v in sums.items()}


# --- the statement JSON ----------------------------------------------------------------


def test_open_statement_json_is_live_and_excludes_voids(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    response = api(client, world, "doctor", "get")
    assert response.status_code == 200
    body = response.get_json()
    assert body["clinic"] == "HD001" and body["month"] == SEPT and body["status"] == "open"
    assert body["figures"] == as_json(per_visit_sums(world.clinic.id, SEPT))
    assert body["figures"]["visits"] == 4
    assert isinstance(body["figures"]["visits"], int)
    assert body["figures"]["fiscal"] == "11.10"  # two worked examples, 5.55 each
    assert [d["date"] for d in body["days"]] == ["2026-09-10", "2026-09-21"]
    assert [d["visits"] for d in body["days"]] == [2, 2]
    items = {i["code"]: i for i in body["items"]}
    assert items["AMX01"]["quantity"] == "36" and items["AMX01"]["amount"] == "12.60"
    assert items["BSJ01"]["quantity"] == "2.5" and items["BSJ01"]["amount"] == "1.63"
    assert body["history"] == [] and body["payment"] is None


def test_submit_review_pay_records_every_step(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    submitted = advance(client, world, "submitted")
    row = db.session.scalar(select(Statement).where(Statement.month == SEPT))
    assert row is not None and row.status == "submitted"
    assert {n: getattr(row, n) for n in FIGURE_FIELDS} == per_visit_sums(world.clinic.id, SEPT)
    clock.advance(hours=1)
    reviewed = api(client, world, "reviewer", "review", body={"reason": "checked"}).get_json()
    paid = api(client, world, "finance", "pay", body=pay_body("11.10")).get_json()
    assert submitted["figures"] == reviewed["figures"] == paid["figures"]
    assert paid["status"] == "paid"
    assert paid["payment"] == {
        "paid_on": "2026-10-14",
        "reference": "GZCZ-2026-0917",
        "amount": "11.10",
    }
    history = paid["history"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("submit", "open", "submitted"),
        ("review", "submitted", "reviewed"),
        ("pay", "reviewed", "paid"),
    ]
    assert [h["actor"] for h in history] == ["doctor", "reviewer", "finance"]
    assert history[0]["at"] == "2026-10-15T10:00:00+08:00"
    assert history[1]["at"] == "2026-10-15T11:00:00+08:00"
    assert history[1]["reason"] == "checked" and history[2]["reason"] == "GZCZ-2026-0917"
    assert verify_statement("HD001", SEPT).ok


def test_return_reopens_the_month_and_clears_figures(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    advance(client, world, "reviewed")
    refused = api(client, world, "reviewer", "return", body={"reason": "  "})
    assert refused.status_code == 422
    assert "reason" in refused.get_json()["errors"]
    response = api(client, world, "reviewer", "return", body={"reason": "9月21日漏记一笔"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "open"
    assert body["history"][-1]["reason"] == "9月21日漏记一笔"
    row = db.session.scalar(select(Statement).where(Statement.month == SEPT))
    assert row is not None and row.visits is None and row.fiscal is None
    db.session.rollback()
    # The month is open again: the missing visit can be recorded, and resubmitted.
    record(world, clock(), at=dt.datetime(2026, 9, 21, 6, 0, tzinfo=dt.UTC))
    again = api(client, world, "doctor", "submit").get_json()
    assert again["figures"]["visits"] == 5
    assert again["figures"] == as_json(per_visit_sums(world.clinic.id, SEPT))


# every (action, state) pair the transition table does not allow
ILLEGAL = [
    ("submit", "submitted"),
    ("submit", "reviewed"),
    ("submit", "paid"),
    ("review", "open"),
    ("review", "reviewed"),
    ("review", "paid"),
    ("return", "open"),
    ("return", "paid"),
    ("pay", "open"),
    ("pay", "submitted"),
    ("pay", "paid"),
]
ACTOR = {"submit": "doctor", "review": "reviewer", "return": "reviewer", "pay": "finance"}


@pytest.mark.parametrize(("action", "state"), ILLEGAL)
def test_illegal_transition_is_409_naming_the_state(
    client: FlaskClient, world: World, september: list[Visit], action: str, state: str
) -> None:
    advance(client, world, state)
    events_before = db.session.query(StatementEvent).count()
    body = {"reason": "x"} if action == "return" else None
    if action == "pay":
        body = pay_body("11.10")
    response = api(client, world, ACTOR[action], action, body=body)
    assert response.status_code == 409
    error = response.get_json()
    assert error["codes"]["status"] == "illegal_transition"
    assert f"the statement is {state}" in error["message"]
    assert api(client, world, "doctor", "get").get_json()["status"] == state
    assert db.session.query(StatementEvent).count() == events_before


def test_scope_and_role_are_403(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    # Doctor of another clinic: neither reads nor submits HD001.
    assert api(client, world, "doctor2", "get").status_code == 403
    assert api(client, world, "doctor2", "submit").status_code == 403
    assert api(client, world, "doctor", "submit", "HD002").status_code == 403
    advance(client, world, "submitted")
    advance(client, world, "submitted", clinic="HD002")
    # Reviewer of another district; town reviewer outside his town.
    for who in ("hp_reviewer", "town_reviewer"):
        assert api(client, world, who, "get").status_code == 403
        assert api(client, world, who, "review").status_code == 403
        assert api(client, world, who, "return", body={"reason": "x"}).status_code == 403
    assert api(client, world, "town_reviewer", "review", "HD002").status_code == 200
    # Roles: a doctor does not review, a reviewer does not pay, finance does not review.
    assert api(client, world, "doctor", "review").status_code == 403
    assert api(client, world, "finance", "review").status_code == 403
    assert api(client, world, "admin", "review").status_code == 403
    api(client, world, "reviewer", "review")
    assert api(client, world, "reviewer", "pay", body=pay_body("11.10")).status_code == 403
    assert api(client, world, "doctor", "get").get_json()["status"] == "reviewed"
    # District summaries follow the same scope.
    url = f"/api/v1/districts/440114/summaries/{SEPT}"
    assert client.get(url, headers=world.auth("hp_reviewer")).status_code == 403
    assert client.get(url, headers=world.auth("doctor")).status_code == 403
    assert client.get(url, headers=world.auth("finance")).status_code == 200
    assert client.get(url, headers=world.auth("admin")).status_code == 200
    assert client.get(url).status_code == 401


def test_payment_must_be_the_backstop_due(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    advance(client, world, "reviewed")
    for amount in ("11.00", "11.11", "0.00"):
        response = api(client, world, "finance", "pay", body=pay_body(amount))
        assert response.status_code == 422
        assert "amount" in response.get_json()["errors"]
        assert "11.10" in response.get_json()["message"]
    bad = [
        pay_body("11.1O"),  # not a number
        pay_body(11.10),  # a JSON number loses exactness: refused by shape
        pay_body("11.10", paid_on="2026-10-16"),  # tomorrow
        pay_body("11.10", paid_on="2026-09-30"),  # before the month ended
        pay_body("11.10", reference=" "),
        {"paid_on": "2026-10-14", "amount": "11.10"},
    ]
    for body in bad:
        response = api(client, world, "finance", "pay", body=body)
        assert response.status_code == 422, body
        assert response.get_json()["errors"], body
    assert api(client, world, "doctor", "get").get_json()["status"] == "reviewed"


def test_running_month_cannot_be_submitted_until_it_ends(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    record(world, clock(), at=None)  # now: 2026-10-15
    for month in ("2026-10", "2026-11"):
        response = api(client, world, "doctor", "submit", month=month)
        assert response.status_code == 409
        assert response.get_json()["codes"]["month"] == "month_not_ended"
        assert "from 2026-11-01" in response.get_json()["message"] or month == "2026-11"
    clock.now = dt.datetime(2026, 10, 31, 15, 59, tzinfo=dt.UTC)  # 23:59 in Shanghai
    assert api(client, world, "doctor", "submit", month="2026-10").status_code == 409
    clock.now = dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.UTC)  # midnight in Shanghai
    assert api(client, world, "doctor", "submit", month="2026-10").status_code == 200
    assert api(client, world, "doctor", "get", month="2026-13").status_code == 422
    assert api(client, world, "doctor", "get", "NOPE").status_code == 404


def test_month_without_visits_can_be_submitted(client: FlaskClient, world: World) -> None:
    body = api(client, world, "doctor2", "submit", "HD002", month="2026-08").get_json()
    assert body["status"] == "submitted"
    assert body["figures"]["visits"] == 0 and body["figures"]["fiscal"] == "0.00"
    assert body["days"] == [] and body["items"] == []
    assert verify_statement("HD002", "2026-08").ok


def test_submitted_month_is_frozen_for_visits(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    advance(client, world, "submitted")
    with pytest.raises(Conflict) as refused:
        record(world, clock(), at=dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC))
    assert refused.value.field == "visited_at"
    assert "submitted" in refused.value.message
    with pytest.raises(Conflict) as refused:
        void_visit(september[0].id, "wrong patient", user("doctor"), clock())
    assert refused.value.field == "visit"
    db.session.rollback()
    # October and other clinics are not affected.
    record(world, clock(), at=None)
    record(world, clock(), clinic="HD002", doctor="doctor2")
    assert verify_statement("HD001", SEPT).ok


def test_verify_catches_figures_that_no_longer_match(
    app: Flask, client: FlaskClient, world: World, september: list[Visit]
) -> None:
    advance(client, world, "submitted")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["statements", "verify", "--district", "440114", "--month", SEPT])
    assert ok.exit_code == 0, ok.output
    assert "HD001 2026-09 submitted: OK" in ok.output
    assert "HD002 2026-09 open" in ok.output
    # Tamper behind the application's back: void a visit of the frozen month in SQL.
    past_the_rollup_check(db.session)
    db.session.execute(
        text("UPDATE visit SET voided_at = recorded_at, void_reason = 'x' WHERE id = :id"),
        {"id": september[0].id},
    )
    db.session.commit()
    result = verify_statement("HD001", SEPT)
    assert not result.ok
    assert {p.field for p in result.problems} >= {"visits", "total", "fiscal"}
    bad = runner.invoke(args=["statements", "verify", "--district", "440114", "--month", SEPT])
    assert bad.exit_code == 1
    assert "MISMATCH" in bad.output


# --- the district summary ----------------------------------------------------------------


def summary(client: FlaskClient, world: World, who: str = "finance", month: str = SEPT) -> Any:
    response = client.get(f"/api/v1/districts/440114/summaries/{month}", headers=world.auth(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_district_summary_lists_programme_clinics_with_totals(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD003", doctor="doctor3")  # not in the programme
    body = summary(client, world)
    rows = {r["clinic"]: r for r in body["rows"]}
    # HD002 has no visit but is in the programme; HD003 is not, but had a visit.
    assert list(rows) == ["HD001", "HD002", "HD003"]
    assert rows["HD003"]["figures"]["programme_visits"] == 0
    assert rows["HD003"]["figures"]["fiscal"] == "0.00"
    assert rows["HD002"]["figures"]["visits"] == 0 and rows["HD002"]["status"] == "open"
    assert rows["HD001"]["figures"] == as_json(per_visit_sums(world.clinic.id, SEPT))
    assert rows["HD001"]["paid"] is None
    assert body["totals"]["fiscal"] == "11.10" and body["totals"]["paid"] == "0.00"
    assert body["outstanding"] == "11.10"
    advance(client, world, "paid")
    advance(client, world, "reviewed", clinic="HD002")
    body = summary(client, world)
    rows = {r["clinic"]: r for r in body["rows"]}
    assert rows["HD001"]["status"] == "paid" and rows["HD001"]["paid"] == "11.10"
    assert rows["HD001"]["paid_on"] == "2026-10-14"
    assert body["totals"]["paid"] == "11.10" and body["outstanding"] == "0.00"
    assert body["statuses"] == {"open": 1, "submitted": 0, "reviewed": 1, "paid": 1}
    for name in FIGURE_FIELDS:
        added = sum(Decimal(str(r["figures"][name])) for r in body["rows"])
        assert added == Decimal(str(body["totals"][name])), name
    # A town reviewer sees only the clinics of his town.
    town = summary(client, world, "town_reviewer")
    assert [r["clinic"] for r in town["rows"]] == ["HD002"]


def test_pay_all_reviewed_is_all_or_nothing(
    client: FlaskClient, world: World, september: list[Visit], clock: FixedClock
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    advance(client, world, "reviewed")
    advance(client, world, "reviewed", clinic="HD002")
    url = f"/api/v1/districts/440114/summaries/{SEPT}/pay"
    headers = world.auth("finance")
    base = {"paid_on": "2026-10-15", "reference": "BATCH-09"}
    # The confirmation said one clinic: nothing is paid.
    stale = client.post(url, json={**base, "count": 1, "amount": "16.65"}, headers=headers)
    assert stale.status_code == 409
    assert summary(client, world)["statuses"]["paid"] == 0
    wrong = client.post(url, json={**base, "count": 2, "amount": "16.66"}, headers=headers)
    assert wrong.status_code == 409
    paid = client.post(url, json={**base, "count": 2, "amount": "16.65"}, headers=headers)
    assert paid.status_code == 200, paid.get_json()
    body = paid.get_json()
    assert body["statuses"]["paid"] == 2 and body["outstanding"] == "0.00"
    assert {r["reference"] for r in body["rows"]} == {"BATCH-09"}
    again = client.post(url, json={**base, "count": 2, "amount": "16.65"}, headers=headers)
    assert again.status_code == 409


# --- files ----------------------------------------------------------------------------------


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_and_xlsx_match_the_json(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    body = advance(client, world, "submitted")
    headers = world.auth("reviewer")
    response = client.get(f"/api/v1/statements/HD001/{SEPT}.csv", headers=headers)
    assert response.status_code == 200
    assert 'filename="HD001-2026-09.csv"' in response.headers["Content-Disposition"]
    # Issue 10 item 13: charset stated once; no English field-name column.
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv_rows(response.data)
    assert not any("字段" in r or "fund_pays" in r for r in rows)
    with document_locale():
        name_of = {label: name for name, label in figure_labels().items()}
    by_key = {name_of[r[0]]: r[1] for r in rows if len(r) == 2 and r[0] in name_of}
    assert by_key == {k: str(v) for k, v in body["figures"].items()}
    day_rows = [r for r in rows if r and r[0].startswith("2026-09-")]
    header = next(r for r in rows if r and r[0] == "日期")
    for day, row in zip(body["days"], day_rows, strict=True):
        assert row[0] == day["date"]
        assert row[1:] == [str(day[n]) for n in FIGURE_FIELDS]
    with document_locale():
        assert header[1:] == list(figure_labels().values())

    response = client.get(f"/api/v1/statements/HD001/{SEPT}.xlsx", headers=headers)
    assert response.status_code == 200
    assert 'filename="HD001-2026-09.xlsx"' in response.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.data))
    sheet = {name_of[r[0]]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if r[0] in name_of}
    for name, value in body["figures"].items():
        cell = sheet[name]
        assert (Decimal(str(cell)).quantize(Decimal("0.01")) if name in MONEY_FIELDS else cell) == (
            Decimal(value) if name in MONEY_FIELDS else value
        )
    items = [r for r in wb["项目"].iter_rows(values_only=True)][1:-1]
    assert [(r[0], Decimal(str(r[3]))) for r in items] == [
        (i["code"], Decimal(i["quantity"])) for i in body["items"]
    ]
    # Quantities are numbers and days real dates, each with a number format.
    quantity_cell = wb["项目"]["D2"]
    assert isinstance(quantity_cell.value, int | float) and quantity_cell.number_format == "General"
    day_cell = wb["逐日"]["A2"]
    assert isinstance(day_cell.value, dt.datetime) and day_cell.number_format == "yyyy-mm-dd"
    assert day_cell.value.date().isoformat() == body["days"][0]["date"]

    sum_csv = client.get(f"/api/v1/districts/440114/summaries/{SEPT}.csv", headers=headers)
    assert sum_csv.status_code == 200
    srows = _csv_rows(sum_csv.data)
    json_rows = summary(client, world, "reviewer")["rows"]
    assert [r[0] for r in srows[1:-2]] == [r["clinic"] for r in json_rows]
    for line, row in zip(srows[1:-2], json_rows, strict=True):
        assert line[4 : 4 + len(FIGURE_FIELDS)] == [str(row["figures"][n]) for n in FIGURE_FIELDS]
    sum_xlsx = client.get(f"/api/v1/districts/440114/summaries/{SEPT}.xlsx", headers=headers)
    assert sum_xlsx.status_code == 200


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _assert_fonts_embedded(path: Path) -> None:
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    fonts = out.stdout.splitlines()[2:]
    assert fonts, out.stdout
    for line in fonts:
        # columns: name type encoding emb sub uni object ID
        assert line.split()[-5] == "yes", line


needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="poppler-utils (pdftotext, pdffonts) not installed"
)


@needs_poppler
@pytest.mark.one_database
def test_statement_pdf_prints_every_total(
    client: FlaskClient, world: World, september: list[Visit], dialect: str
) -> None:
    body = advance(client, world, "reviewed")
    response = client.get(f"/api/v1/statements/HD001/{SEPT}.pdf", headers=world.auth("finance"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="HD001-2026-09.pdf"' in response.headers["Content-Disposition"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"HD001-2026-09-{dialect}.pdf"
    pdf.write_bytes(response.data)
    content = _pdf_text(pdf)
    for heading in (
        "月度结算单",
        "结算汇总",
        "逐日明细",
        "诊疗项目明细",
        "制表人",
        "审核人",
        "财政局",
        "大涡村卫生站",
        "花都区",
        "炭步镇",
        "已审核",
    ):
        assert heading in content, heading
    assert re.search(r"第\s*1\s*页\s*共\s*1\s*页", content)
    assert "草稿" not in content
    for name in MONEY_FIELDS:
        assert body["figures"][name] in content, name
    for item in body["items"]:
        assert item["name"] in content and item["amount"] in content
    _assert_fonts_embedded(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(pdf.with_suffix("")),
        ],
        check=True,
    )


@needs_poppler
@pytest.mark.one_database
def test_open_month_pdf_is_marked_draft_and_summary_pdf_has_totals(
    client: FlaskClient, world: World, september: list[Visit], dialect: str
) -> None:
    response = client.get(f"/api/v1/statements/HD001/{SEPT}.pdf", headers=world.auth("doctor"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    draft = ARTIFACTS / f"HD001-2026-09-draft-{dialect}.pdf"
    draft.write_bytes(response.data)
    assert "草稿" in _pdf_text(draft)
    advance(client, world, "paid")
    response = client.get(
        f"/api/v1/districts/440114/summaries/{SEPT}.pdf", headers=world.auth("finance")
    )
    assert response.status_code == 200
    assert 'filename="440114-2026-09-summary.pdf"' in response.headers["Content-Disposition"]
    pdf = ARTIFACTS / f"440114-2026-09-summary-{dialect}.pdf"
    pdf.write_bytes(response.data)
    content = _pdf_text(pdf)
    body = summary(client, world)
    for expected in (
        "花都区",
        "大涡村卫生站",
        "瑞岭村卫生站",
        "合计",
        "财政局",
        body["totals"]["fiscal"],
        body["totals"]["fund"],
        body["totals"]["total"],
        body["totals"]["paid"],
    ):
        assert expected in content, expected
    _assert_fonts_embedded(pdf)


@pytest.mark.one_database
def test_cli_render_writes_every_clinic_and_the_summary(
    app: Flask, client: FlaskClient, world: World, september: list[Visit], tmp_path: Path
) -> None:
    advance(client, world, "submitted")
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(
        args=["statements", "render", "--district", "440114", "--month", SEPT, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["440114-2026-09-summary.pdf", "HD001-2026-09.pdf", "HD002-2026-09.pdf"]
    assert str(out.resolve()) in result.output
    for path in out.iterdir():
        assert path.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        assert "11.10" in _pdf_text(out / "HD001-2026-09.pdf")
    bad = app.test_cli_runner().invoke(
        args=["statements", "render", "--district", "999999", "--month", SEPT, "--out", str(out)]
    )
    assert bad.exit_code != 0 and "unknown district" in bad.output


def test_one_label_per_figure_on_page_csv_xlsx_and_pdf(
    client: FlaskClient, world: World, september: list[Visit]
) -> None:
    """Every surface takes its words from app.settlement.labels (issue 7)."""
    from tests.integration.test_settlement_pages import login

    with document_locale():
        labels = figure_labels()
    headers = world.auth("reviewer")
    csv_rows = _csv_rows(client.get(f"/api/v1/statements/HD001/{SEPT}.csv", headers=headers).data)
    in_csv = [r[0] for r in csv_rows if len(r) == 2 and r[0] in labels.values()]
    assert in_csv == list(labels.values())
    assert ["状态", "未提交"] in csv_rows  # the status name of the same table
    xlsx = client.get(f"/api/v1/statements/HD001/{SEPT}.xlsx", headers=headers).data
    sheet = load_workbook(io.BytesIO(xlsx))["汇总"]
    in_xlsx = [r[0] for r in sheet.iter_rows(values_only=True) if r[0] in labels.values()]
    assert in_xlsx[: len(labels)] == list(labels.values())
    summary_csv = client.get(f"/api/v1/districts/440114/summaries/{SEPT}.csv", headers=headers)
    assert _csv_rows(summary_csv.data)[0][4 : 4 + len(labels)] == list(labels.values())
    login(client, "reviewer")
    page = client.get(f"/statements/HD001/{SEPT}").get_data(as_text=True)
    for label in labels.values():
        assert label in page, label
    if shutil.which("pdftotext"):
        pdf = ARTIFACTS / "labels.pdf"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(client.get(f"/statements/HD001/{SEPT}.pdf").data)
        printed = _pdf_text(pdf).replace(" ", "")
        for label in labels.values():
            assert label in printed, label
