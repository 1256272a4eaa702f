"""Reconciliation end to end on SQLite and PostgreSQL (SPEC §7, issue 12).

Visits are recorded through ``record_visit``; the simulated insurance
platform settles them with one of every kind of disagreement and writes a GBK
settlement file; ``flask reconcile import`` matches it, keeps every outcome
with both figures and a reason, and books the backstop's adjustments — on the
visit's own statement while it is unpaid, else on the next open one.  A
recorded visit (and so the patient's share) never changes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from pathlib import Path
from typing import ClassVar

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from app.audit.models import AuditEntry
from app.auth.models import User
from app.errors import InvalidInput
from app.extensions import db
from app.money import format_yuan, parse_yuan
from app.oversight.checks import screen
from app.reconcile.models import FundFinding
from app.reconcile.platform import Disagreements, SimulatedPlatform, settlement_csv
from app.reconcile.queries import platform_visits, reconciliation
from app.reconcile.rules import SettlementRow
from app.settlement.models import StatementAdjustment as FundAdjustment
from app.settlement.operations import pay_statement, review_statement, submit_statement
from app.settlement.queries import verify_statement
from app.settlement.rules import Payment
from app.visits.models import Visit
from app.visits.operations import LineRequest, VisitRequest, record_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world

LINES = (LineRequest("DX001", "1"), LineRequest("AMX01", "12"), LineRequest("FFGC1", "1"))
OCT = "2026-10"


def user(name: str) -> User:
    found = db.session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    world = build_world(clock())
    for day in range(1, 13):  # twelve programme visits and two non-programme ones in October
        at = dt.datetime(2026, 10, day, 2, 0, tzinfo=dt.UTC)
        record_visit(
            VisitRequest("HD001", world.ids["insured_village"], day % 2 == 0, LINES, at),
            user("doctor"),
            clock(),
            screen=screen,
        )
    for day in (3, 4):
        at = dt.datetime(2026, 10, day, 3, 0, tzinfo=dt.UTC)
        record_visit(
            VisitRequest("HD001", world.ids["insured_community"], False, LINES, at),
            user("doctor"),
            clock(),
            screen=screen,
        )
    return world


def visit_rows() -> list[tuple[object, ...]]:
    rows = db.session.execute(
        select(Visit.id, Visit.total, Visit.patient, Visit.fund, Visit.fiscal).order_by(Visit.id)
    ).all()
    return [tuple(r) for r in rows]


def import_file(app: Flask, path: Path, month: str = OCT) -> str:
    result = app.test_cli_runner().invoke(
        args=["reconcile", "import", str(path), "--district", "440114", "--month", month]
    )
    db.session.rollback()
    assert result.exit_code == 0, result.output
    return result.output


def simulate(app: Flask, path: Path, **bent: int) -> None:
    args = ["reconcile", "simulate", "--district", "440114", "--month", OCT, "--out", str(path)]
    for name, count in bent.items():
        args += [f"--{name}", str(count)]
    result = app.test_cli_runner().invoke(args=[*args, "--encoding", "gbk"])
    assert result.exit_code == 0, result.output


def adjustments_by_visit() -> dict[int, int]:
    return dict(
        db.session.execute(
            select(FundAdjustment.visit_id, func.sum(FundAdjustment.amount)).group_by(
                FundAdjustment.visit_id
            )
        ).all()
    )


def test_every_kind_of_difference_is_explained_and_the_backstop_follows_the_fund(
    app: Flask, world: World, tmp_path: Path
) -> None:
    before = visit_rows()
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1, price=1, rejected=1, reversed=1, duplicate=1, unknown=1)
    out = import_file(app, path)
    assert "adjustments booked: 4" in out  # lapsed, price, rejected, reversed; not duplicate

    report = reconciliation("440114", OCT)
    outcomes = {(o.outcome, o.reason): o.count for o in report.outcomes}
    assert outcomes[("different", "insurance_lapsed")] == 1
    assert outcomes[("different", "price_difference")] == 1
    assert outcomes[("not_settled", "never_settled")] == 1
    assert outcomes[("not_settled", "reversed")] == 1
    assert outcomes[("duplicate", "duplicate_settlement")] == 1
    assert outcomes[("unknown", "no_such_receipt")] == 1
    assert outcomes[("matched", "equal")] == 14 - 5  # the two non-programme visits match too
    assert sum(outcomes.values()) == 14 + 1

    # Σ adjustments of every programme visit = computed − actually paid, to the fen.
    findings = db.session.scalars(select(FundFinding).where(FundFinding.visit_id.isnot(None)))
    booked = adjustments_by_visit()
    for finding in findings:
        expected = finding.fund_computed - finding.fund_paid if finding.backstopped else 0
        if finding.outcome == "duplicate":
            expected = 0  # paid twice: the fund recovers its extra payment, not the district
        assert booked.get(finding.visit_id, 0) == expected, finding.reason
    assert report.backstop_effect == sum(booked.values()) > 0
    (clinic,) = report.clinics
    assert clinic.reconciled_fiscal == clinic.fiscal + report.backstop_effect
    assert abs(report.biggest[0].difference) >= abs(report.biggest[-1].difference)

    assert visit_rows() == before  # no visit, no patient share was touched

    # The same file again changes nothing.
    assert "already imported" in import_file(app, path)
    assert adjustments_by_visit() == booked

    # Every adjustment and the import itself are in the audit log, and it verifies.
    entries = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.in_(("adjustment.book", "import")))
    ).all()
    assert entries.count("adjustment.book") == 4 and entries.count("import") == 1
    verify = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_a_paid_months_late_reversal_goes_on_the_next_open_statement(
    app: Flask, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    first = tmp_path / "oct.csv"
    simulate(app, first)  # everything settled as computed
    import_file(app, first)
    assert adjustments_by_visit() == {}

    clock.now = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
    statement = submit_statement("HD001", OCT, user("doctor"), clock())
    review_statement("HD001", OCT, user("reviewer"), clock())
    due = statement.fiscal
    assert due is not None
    pay_statement("HD001", OCT, Payment(clock().date(), "BANK-1", due), user("finance"), clock())

    # In November the fund reverses one October settlement.
    platform = SimulatedPlatform(Disagreements())
    settled = platform.run_month(platform_visits("440114", OCT), OCT)
    target = next(r for r in settled)
    later = settlement_csv([*settled, platform.reverse(target.setl_id)])
    second = tmp_path / "oct-reversal.csv"
    second.write_bytes(later)
    out = import_file(app, second)
    assert "1 already known" not in out and "adjustments booked: 1" in out
    (adjustment,) = db.session.scalars(select(FundAdjustment)).all()
    assert adjustment.belongs_to == OCT and adjustment.statement_month == "2026-11"
    assert adjustment.reason == "reversed" and adjustment.amount == adjustment.fund_computed > 0


def test_a_bad_file_imports_nothing(app: Flask, world: World, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    simulate(app, path, lapsed=1)
    text = path.read_bytes().decode("gbk").splitlines()
    text[3] = text[3].replace("2026-10", "2026/10")
    path.write_bytes("\n".join(text).encode("gbk"))
    result = app.test_cli_runner().invoke(
        args=["reconcile", "import", str(path), "--district", "440114", "--month", OCT]
    )
    assert result.exit_code != 0
    assert f"{path}:4: setl_time:" in result.output
    assert db.session.scalar(select(func.count()).select_from(FundFinding)) == 0
    assert adjustments_by_visit() == {}


# --- the pages ------------------------------------------------------------------------


@pytest.fixture
def pages(app: Flask, world: World) -> World:
    @app.before_request
    def _fresh_g() -> None:  # each request gets its own g, as in a browser
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)

    return world


def page_client(app: Flask, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": "secret-pass"}
    )
    assert r.status_code == 302
    return client, csrf_from(client.get("/reconcile?month=2026-10").text)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "page carries no CSRF token"
    return m.group(1)


def test_finance_uploads_the_file_and_sees_every_difference(
    app: Flask, pages: World, tmp_path: Path
) -> None:
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1, price=1, reversed=1)
    client, csrf = page_client(app, "finance")
    empty = client.get("/reconcile?month=2026-10")
    assert "本月尚未导入医保结算明细" in empty.text

    r = client.post(
        "/reconcile/upload",
        data={"csrf_token": csrf, "month": OCT, "file": (io.BytesIO(path.read_bytes()), "oct.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    page = client.get(r.location).text
    assert "已导入" in page and "医保平台认定未参保或参保失效" in page and "结算已冲销" in page
    effect = re.search(r'id="backstop-effect">¥([\d.]+)<', page)
    assert effect and effect.group(1) == format_yuan(sum(adjustments_by_visit().values()))

    pdf = client.get("/reconcile/2026-10.pdf")
    assert pdf.status_code == 200 and pdf.headers["Cache-Control"] == "no-store"
    out = tmp_path / "r.pdf"
    out.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "医保基金结算对账表" in text and "结算已冲销" in text
    book = load_workbook(io.BytesIO(client.get("/reconcile/2026-10.xlsx").data))
    clinics = book.worksheets[1]
    row = [c.value for c in next(clinics.iter_rows(min_row=2))]
    # Money is a number in the sheet (two decimals), the same figure as on the page.
    assert row[0] == "HD001" and f"{row[4]:.2f}" == format_yuan(
        sum(adjustments_by_visit().values())
    )

    # The same file again: nothing changes, and the clerk is told so.
    again = client.post(
        "/reconcile/upload",
        data={"csrf_token": csrf, "month": OCT, "file": (io.BytesIO(path.read_bytes()), "oct.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "该文件已导入过" in again.text


def test_a_rejected_upload_lists_its_lines_and_other_roles_only_read(
    app: Flask, pages: World
) -> None:
    client, csrf = page_client(app, "finance")
    bad = "fixmedins_code,setl_id\nH1,S1\n".encode("gbk")
    r = client.post(
        "/reconcile/upload",
        data={"csrf_token": csrf, "month": OCT, "file": (io.BytesIO(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "文件未导入" in r.text and "bad.csv:1: mdtrt_id" in r.text
    assert db.session.scalar(select(func.count()).select_from(FundFinding)) == 0

    reviewer, csrf2 = page_client(app, "reviewer")
    assert reviewer.get("/reconcile?month=2026-10").status_code == 200
    denied = reviewer.post(
        "/reconcile/upload",
        data={"csrf_token": csrf2, "month": OCT, "file": (io.BytesIO(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert denied.status_code == 403
    doctor = app.test_client()
    token = csrf_from(doctor.get("/login").text)
    doctor.post(
        "/login", data={"csrf_token": token, "username": "doctor", "password": "secret-pass"}
    )
    assert doctor.get("/reconcile?month=2026-10").status_code == 403
    bad = reviewer.get("/reconcile?month=9999-99")
    assert bad.status_code == 422 and "月份：请按 2026-10 的格式输入月份" in bad.text
    assert 'value="9999-99"' in bad.text  # what was typed stays in the box
    assert reviewer.get("/reconcile?month=2026/10").status_code == 200  # read as 2026-10


def test_the_statement_and_the_summary_carry_the_adjustments_and_finance_pays_them(
    app: Flask, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1, reversed=1)
    import_file(app, path)
    booked = sum(adjustments_by_visit().values())
    assert booked > 0

    clock.now = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
    client = app.test_client()
    statement = client.get("/api/v1/statements/HD001/2026-10", headers=world.auth("reviewer")).json
    fiscal = statement["figures"]["fiscal"]
    assert statement["adjustment_total"] == format_yuan(booked)
    assert statement["backstop_due"] == format_yuan(parse_yuan(fiscal) + booked)
    assert {a["reason"] for a in statement["adjustments"]} == {"insurance_lapsed", "reversed"}
    assert all(a["belongs_to"] == OCT and a["source"] == "fund" for a in statement["adjustments"])

    summary = client.get(
        "/api/v1/districts/440114/summaries/2026-10", headers=world.auth("finance")
    )
    row = next(r for r in summary.json["rows"] if r["clinic"] == "HD001")
    assert row["adjustments"] == format_yuan(booked)
    assert row["backstop_due"] == statement["backstop_due"]
    assert summary.json["totals"]["adjustments"] == format_yuan(booked)

    csv_text = client.get("/api/v1/statements/HD001/2026-10.csv", headers=world.auth("finance"))
    assert "应付兜底" in csv_text.data.decode("utf-8-sig")
    pdf = tmp_path / "s.pdf"
    pdf.write_bytes(
        client.get("/api/v1/statements/HD001/2026-10.pdf", headers=world.auth("finance")).data
    )
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "医保对账调整" in text and "结算已冲销" in text

    submit_statement("HD001", OCT, user("doctor"), clock())
    review_statement("HD001", OCT, user("reviewer"), clock())
    recorded = parse_yuan(fiscal)
    with pytest.raises(InvalidInput):  # the recorded backstop alone is no longer what is due
        pay_statement(
            "HD001", OCT, Payment(clock().date(), "B-1", recorded), user("finance"), clock()
        )
    pay_statement(
        "HD001", OCT, Payment(clock().date(), "B-1", recorded + booked), user("finance"), clock()
    )
    assert verify_statement("HD001", OCT).ok


class FixedPlatform:
    """A stand-in for a real platform adapter, named only in the configuration."""

    rows: ClassVar[list[SettlementRow]] = []

    def settlement_detail(self, insurance_codes: set[str], month: str) -> list[SettlementRow]:
        return [r for r in self.rows if r.insurance_code in insurance_codes]


def test_a_real_platform_is_configuration_not_code(
    app: Flask, world: World, tmp_path: Path
) -> None:
    # The simulator, through the same command a real connection uses.
    out = app.test_cli_runner().invoke(
        args=["reconcile", "fetch", "--district", "440114", "--month", OCT]
    )
    assert out.exit_code == 0, out.output
    assert "simulator: 14 settlements" in out.output and "0 adjustments" in out.output

    # Another adapter, chosen by INSURANCE_PLATFORM alone: it paid one visit less.
    platform = SimulatedPlatform()
    rows = platform.run_month(platform_visits("440114", OCT), OCT)
    FixedPlatform.rows = [*rows, platform.reverse(rows[0].setl_id)]
    app.config["INSURANCE_PLATFORM"] = f"{__name__}:FixedPlatform"
    out = app.test_cli_runner().invoke(
        args=["reconcile", "fetch", "--district", "440114", "--month", OCT]
    )
    assert out.exit_code == 0, out.output
    assert "1 adjustments" in out.output
    app.config["INSURANCE_PLATFORM"] = "nowhere:Nothing"
    bad = app.test_cli_runner().invoke(
        args=["reconcile", "fetch", "--district", "440114", "--month", OCT]
    )
    assert bad.exit_code != 0 and "INSURANCE_PLATFORM" in bad.output


# --- issue 21, item 4: a month's report, the upload's size, the town's scope --------------


def test_a_late_files_adjustment_still_counts_in_its_own_months_report(
    app: Flask, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    first = tmp_path / "oct.csv"
    simulate(app, first)
    import_file(app, first)
    clock.now = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
    statement = submit_statement("HD001", OCT, user("doctor"), clock())
    review_statement("HD001", OCT, user("reviewer"), clock())
    assert statement.fiscal is not None
    pay_statement(
        "HD001", OCT, Payment(clock().date(), "BANK-1", statement.fiscal), user("finance"), clock()
    )
    platform = SimulatedPlatform(Disagreements())
    settled = platform.run_month(platform_visits("440114", OCT), OCT)
    late = tmp_path / "oct-late.csv"
    late.write_bytes(settlement_csv([*settled, platform.reverse(settled[0].setl_id)]))
    import_file(app, late)
    (adjustment,) = db.session.scalars(select(FundAdjustment)).all()
    assert adjustment.statement_month == "2026-11"  # the money is on the next open statement
    report = reconciliation("440114", OCT)
    (clinic,) = report.clinics
    assert clinic.adjusted == adjustment.amount > 0  # and October's report still counts it
    assert report.backstop_effect == adjustment.amount
    assert reconciliation("440114", "2026-11").backstop_effect == 0


def test_the_upload_takes_a_file_bigger_than_an_ordinary_request(
    app: Flask, pages: World, tmp_path: Path
) -> None:
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1)
    data = path.read_bytes()
    limit = app.config["MAX_CONTENT_LENGTH"]
    # Blank lines are skipped by the reader: the same file, padded past the request limit.
    padded = data + b"\r\n" * ((limit - len(data)) // 2 + 1024)
    assert limit < len(padded) < app.config["MAX_UPLOAD_LENGTH"]
    client, csrf = page_client(app, "finance")

    def post(fields: dict[str, object]) -> TestResponse:
        # The body built here, in memory: the test client would spool it to a temp file.
        boundary, body = encode_multipart(MultiDict(fields))
        return client.post(
            "/reconcile/upload",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    upload = FileStorage(io.BytesIO(padded), "oct.csv")
    r = post({"csrf_token": csrf, "month": OCT, "file": upload})
    assert r.status_code == 302, r.text[:500]
    assert sum(adjustments_by_visit().values()) > 0
    # Without the token the big upload is still refused (CSRF holds on this route).
    refused = post({"month": OCT, "file": FileStorage(io.BytesIO(padded), "oct.csv")})
    assert refused.status_code == 400


def test_a_town_scoped_reader_sees_only_the_towns_clinics(
    app: Flask, pages: World, clock: FixedClock, tmp_path: Path
) -> None:
    at = dt.datetime(2026, 10, 5, 2, 0, tzinfo=dt.UTC)  # one visit at HD002 (赤坭镇)
    record_visit(
        VisitRequest("HD002", pages.ids["expired_village"], True, LINES, at),
        user("doctor2"),
        clock(),
        screen=screen,
    )
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1)
    import_file(app, path)
    district = reconciliation("440114", OCT)
    assert {c.clinic for c in district.clinics} >= {"HD001", "HD002"}

    client, _csrf = page_client(app, "town_reviewer")
    page = client.get("/reconcile?month=2026-10").text
    assert "HD002" in page and "HD001" not in page and "大涡村卫生站" not in page
    book = load_workbook(io.BytesIO(client.get("/reconcile/2026-10.xlsx").data))
    codes = {
        row[0]
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        if row and isinstance(row[0], str)
    }
    assert "HD002" in codes and "HD001" not in codes
    pdf = tmp_path / "town.pdf"
    pdf.write_bytes(client.get("/reconcile/2026-10.pdf").data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "HD002" in text and "HD001" not in text


def test_a_preview_shows_each_clinics_changes_and_writes_nothing(
    app: Flask, pages: World, tmp_path: Path
) -> None:
    path = tmp_path / "oct.csv"
    simulate(app, path, lapsed=1, reversed=1)
    client, csrf = page_client(app, "finance")  # the login is audited
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    db.session.rollback()
    r = client.post(
        "/reconcile/upload",
        data={
            "csrf_token": csrf,
            "month": OCT,
            "preview": "1",
            "file": (io.BytesIO(path.read_bytes()), "oct.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and 'id="preview"' in r.text and "尚未写入任何数据" in r.text
    row = re.search(r'<tr data-clinic="HD001">(.*?)</tr>', r.text)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    db.session.rollback()
    for model in (FundFinding, FundAdjustment, AuditEntry):
        count = db.session.scalar(select(func.count()).select_from(model))
        assert count == (audit_before if model is AuditEntry else 0), model
    assert "本月尚未导入医保结算明细" in client.get("/reconcile?month=2026-10").text

    # The CLI's preview says the same, and the import then books exactly that.
    preview = app.test_cli_runner().invoke(
        args=["reconcile", "import", str(path), "--district", "440114", "--month", OCT,
              "--preview"]
    )  # fmt: skip
    assert preview.exit_code == 0 and "PREVIEW: nothing was written" in preview.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(FundAdjustment)) == 0
    import_file(app, path)
    booked = adjustments_by_visit()
    assert cells[4] == str(len(booked)) and cells[5] == format_yuan(sum(booked.values()))
    assert "HD001 大涡村卫生站: 14 findings, 2 differing, 2 adjustments" in preview.output
