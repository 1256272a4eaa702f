"""Issue 24 §4: words the users speak, on pages, PDFs and exports alike."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.conftest import FixedClock
from tests.factories import World, set_oversight_policy
from tests.integration.test_oversight_review import past_paid
from tests.integration.test_settlement import SEPT, api, record, world
from tests.integration.test_settlement_pages import login

__all__ = ["world"]


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_a_system_review_reads_as_words_on_the_page_and_the_pdf(
    client: FlaskClient, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    set_oversight_policy(review=True)
    past_paid("HD001", ("2026-06", "2026-07", "2026-08"))
    record(world, clock())
    assert api(client, world, "doctor", "submit").get_json()["status"] == "reviewed"
    login(client, "reviewer")
    page = client.get(f"/statements/HD001/{SEPT}").get_data(as_text=True)
    words = "信用优先，系统自动审核（政策版本 v1）：连续 3 个月结算无退回、无核减；本月无风险提示"
    assert words in page
    assert "credit_first" not in page and "clean_months" not in page
    text = pdf_text(client.get(f"/statements/HD001/{SEPT}.pdf").data, tmp_path)
    assert "连续 3 个月结算无退回、无核减" in text.replace("\n", "")
    assert "credit_first" not in text and "system" not in text


def test_a_returned_month_is_returned_in_the_summary_pdf_csv_and_xlsx(
    client: FlaskClient, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    record(world, clock(), clinic="HD002", doctor="doctor2")
    assert api(client, world, "doctor2", "submit", "HD002").status_code == 200
    back = api(client, world, "reviewer", "return", "HD002", body={"reason": "请核对注射费"})
    assert back.status_code == 200
    login(client, "finance")
    page = client.get(f"/finance?month={SEPT}").get_data(as_text=True)
    assert "已退回" in page
    exported = client.get(f"/finance/{SEPT}.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    assert next(r for r in rows if r[0] == "HD002")[3] == "已退回"
    sheet = load_workbook(io.BytesIO(client.get(f"/finance/{SEPT}.xlsx").data)).active
    assert sheet is not None
    cells = sheet.iter_rows(values_only=True)
    assert any(row[0] == "HD002" and row[3] == "已退回" for row in cells)
    text = pdf_text(client.get(f"/finance/{SEPT}.pdf").data, tmp_path)
    assert "已退回" in text


def test_error_pages_speak_chinese_under_the_chinese_headline(
    client: FlaskClient, world: World
) -> None:
    login(client, "doctor")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    body = missing.get_data(as_text=True)
    assert "页面或记录不存在" in body or "不存在" in body
    assert "The requested URL" not in body and "requested" not in body
    # A domain error's English API message stays out of the page as well.
    other = client.get("/statements/HD002/2026-09")
    assert other.status_code == 403
    assert "outside" not in other.get_data(as_text=True)
