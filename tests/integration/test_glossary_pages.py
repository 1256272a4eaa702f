"""The glossary (术语说明) page, and one name per figure on every page, PDF and export.

Issue 10 item 11: one figure had three names (自付, 患者共付, 患者自付（共付）) and
非项目 read like a translation.  The doctor's and the clerks' pages, the receipt,
daily close, statement and district summary PDFs (through pdftotext) and the
CSV/XLSX exports are fetched here and searched for the old words.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from app.auth.operations import create_user
from app.extensions import db
from app.glossary import TERMS
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_register_pages import record
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    login,
    request_scoped_g,
    seed,
)

MONTH = "2026-10"
OLD_WORDS = ("患者共付", "患者自付（共付）", "非项目", "项目内", "患者自费", "预警", "每次就诊费用")


@pytest.fixture
def world(app: Flask, clock: FixedClock, request_scoped_g: None) -> World:  # noqa: F811
    return seed(clock())


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is needed (poppler-utils; CI installs it)"
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    run = subprocess.run([tool, str(source), "-"], check=True, capture_output=True, text=True)
    return re.sub(r"\s+", "", run.stdout)


def xlsx_text(body: bytes) -> str:
    book = load_workbook(io.BytesIO(body), read_only=True)
    return " ".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )


def logout(client: FlaskClient) -> None:
    client.get("/login")  # a page that works logged in or out
    with client.session_transaction() as session:
        session.clear()


@pytest.mark.parametrize("username", ["doctor", "reviewer", "finance", "admin"])
def test_every_role_reads_the_glossary_linked_from_the_header(
    client: FlaskClient, world: World, username: str
) -> None:
    login(client, username)
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'href="/glossary"' in home and "术语说明" in home
    page = client.get("/glossary")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    words = text_of(html)
    assert "<title>术语说明" in html and 'id="print"' in html  # printable
    for term in TERMS.values():
        assert f'id="term-{term.key}"' in html
        assert term.zh in words and term.definition_zh in words, term.key
    assert "Glossary" not in words


def test_the_glossary_in_english(client: FlaskClient, world: World) -> None:
    login(client, "reviewer")
    words = text_of(client.get("/glossary?lang=en").get_data(as_text=True))
    for term in TERMS.values():
        assert term.en in words and term.definition_en in words, term.key
    assert "医保基金支付" not in words


def test_the_glossary_needs_a_login(client: FlaskClient, world: World) -> None:
    assert client.get("/glossary").status_code == 302


def test_the_header_names_the_clinic_once(client: FlaskClient, world: World) -> None:
    # Issue 10 item 11: a doctor called after his clinic saw its name twice.
    name = world.clinic.name
    create_user(
        "doc_named", "secret-pass", "doctor", clinic_code="HD001", display_name=f"{name}医生"
    )
    db.session.commit()
    login(client, "doc_named")
    header = client.get("/visits/today").get_data(as_text=True).split("</header>")[0]
    assert text_of(header).count(name) == 1
    logout(client)
    login(client, "doctor")  # no display name: the clinic is said beside the username
    header = client.get("/visits/today").get_data(as_text=True).split("</header>")[0]
    assert text_of(header).count(name) == 1 and "doctor" in text_of(header)


def test_no_page_pdf_or_export_uses_an_old_name(
    client: FlaskClient, world: World, tmp_path: Path
) -> None:
    csrf = login(client)
    programme = record(client, world, csrf, "g-1")
    community = record(client, world, csrf, "g-2", who="insured_community", injection=False)
    record(client, world, csrf, "g-3", who="uninsured_village", injection=False)
    seen: dict[str, str] = {}
    for url in (
        "/visits/new",
        "/visits/today",
        "/visits/daily",
        f"/visits/{programme}/receipt",
        f"/visits/{community}/receipt",
        f"/visits/{community}/void",
        "/statements",
        f"/statements/HD001/{MONTH}",
        "/glossary",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        seen[url] = text_of(response.get_data(as_text=True))
    for url in (f"/visits/{programme}/receipt.pdf", f"/visits/{community}/receipt.pdf"):
        seen[url] = pdf_text(client.get(url).data, tmp_path)
    seen["daily.pdf"] = pdf_text(client.get("/visits/daily.pdf").data, tmp_path)
    seen["statement.pdf"] = pdf_text(client.get(f"/statements/HD001/{MONTH}.pdf").data, tmp_path)
    seen["statement.csv"] = client.get(f"/statements/HD001/{MONTH}.csv").data.decode("utf-8-sig")
    seen["statement.xlsx"] = xlsx_text(client.get(f"/statements/HD001/{MONTH}.xlsx").data)
    logout(client)
    login(client, "finance")
    for url in (f"/finance?month={MONTH}", f"/board?month={MONTH}"):
        seen[url] = text_of(client.get(url).get_data(as_text=True))
    seen["summary.pdf"] = pdf_text(client.get(f"/finance/{MONTH}.pdf").data, tmp_path)
    seen["summary.csv"] = client.get(f"/finance/{MONTH}.csv").data.decode("utf-8-sig")
    seen["summary.xlsx"] = xlsx_text(client.get(f"/finance/{MONTH}.xlsx").data)

    found = {(where, old) for where, text in seen.items() for old in OLD_WORDS if old in text}
    assert found == set()
    # ... and the figures go by the glossary's names wherever they are shown.
    receipt = f"/visits/{community}/receipt"
    for where in ("/visits/new", receipt, f"{receipt}.pdf"):
        assert "个人自付" in seen[where] and "全自费" in seen[where], where
    assert "非一元看病" in seen[f"/visits/{community}/receipt"]
    assert "非一元看病" in seen[f"/visits/{community}/receipt.pdf"]
    for where in ("statement.pdf", "statement.csv", "statement.xlsx", "summary.csv"):
        for name in ("医保基金支付", "区财政兜底", "个人自付", "全自费", "政策范围内费用"):
            assert name in seen[where], (where, name)
    # The receipt is a 收据 with a 收据号 everywhere; 凭证号 is finance's payment reference.
    for where in (receipt, f"{receipt}.pdf", "daily.pdf", "/visits/daily", "/visits/today"):
        assert "凭证" not in seen[where], where
    assert "收据号" in seen[receipt] and "收据号" in seen[f"{receipt}.pdf"]
    assert "个人自付及全自费" in seen["daily.pdf"] and "个人自付及全自费" in seen["/visits/daily"]
