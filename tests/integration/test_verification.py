"""The public receipt check (issue 11 §5): no login, nothing personal, one question, throttled."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.checks.codes import ALPHABET, grouped, new_code, normalise
from app.extensions import db
from app.oversight.checks import screen
from app.oversight.models import ReceiptFeedback
from app.oversight.operations import receipt_code_for
from app.oversight.queries import complaints_by_clinic
from app.visits.operations import LineRequest, VisitRequest, record_visit, void_visit
from tests.conftest import FixedClock
from tests.factories import World, build_world

LINES = (LineRequest("DX001", "1"), LineRequest("AMX01", "12"), LineRequest("HY001", "1"))


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> World:
    @app.before_request
    def _fresh_g() -> None:
        for name in ("csrf_token", "_login_user", "_flask_babel"):
            g.pop(name, None)

    return build_world(clock())


def doctor() -> User:
    found = db.session.scalar(select(User).where(User.username == "doctor"))
    assert found is not None
    return found


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_codes_are_random_readable_and_forgiving_to_type() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(len(c) == 12 and set(c) <= set(ALPHABET) for c in codes)
    code = "ABCD0EFGH1JK"
    assert grouped(code) == "ABCD-0EFG-H1JK"
    assert normalise("abcd-oefg h1jk") == code  # lower case, O for 0, dashes and spaces
    assert normalise("ABCD-0EFG-H1J") is None and normalise("ABCD-0EFG-H1JU") is None


def test_a_patient_checks_his_receipt_and_answers(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], True, LINES),
        doctor(),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(visit.id, clock())
    assert receipt_code_for(visit.id, clock()) == code  # one code per visit

    page = client.get(f"/v/{grouped(code).lower()}")
    assert page.status_code == 200
    text = page.text
    assert visit.receipt_number in text and "大涡村卫生站" in text
    assert "¥7.00" in text and "由医保基金和区财政为您支付" in text  # patient 1+1+5
    assert "张三" not in text and world.ids["insured_village"] not in text
    assert world.ids["insured_village"][-4:] not in text
    assert page.headers["Cache-Control"] == "no-store"

    r = client.post(
        f"/v/{code}",
        data={"csrf_token": csrf_from(text), "asked_more": "yes", "said_paid": "20"},
    )
    assert r.status_code == 302
    assert "卫健局将会核查" in client.get(r.location).text
    (answer,) = db.session.scalars(select(ReceiptFeedback)).all()
    assert answer.asked_more and answer.said_paid == 2000 and answer.visit_id == visit.id
    assert complaints_by_clinic("2026-10") == {world.clinic.id: 1}
    # The answer is audited on the clinic's chain, naming no person, and the chain verifies.
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "receipt.feedback")
    ).one()
    assert entry.actor == "public" and entry.chain == "clinic:HD001"
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output

    void_visit(visit.id, "录入错误", doctor(), clock())
    assert "此收据已作废" in client.get(f"/v/{code}").text


def test_unknown_codes_look_like_typos_and_guessing_is_throttled(
    app: Flask, world: World, client: FlaskClient
) -> None:
    app.config["VERIFY_LIMIT"] = "5/minute"
    answers = [client.get(f"/v/{new_code()}").status_code for _ in range(6)]
    assert answers == [404] * 5 + [429]
    assert client.get("/v/not-a-code").status_code == 429  # the limit is per address


def test_the_receipt_page_and_pdf_carry_the_qr_code_and_the_short_code(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock, tmp_path: Path
) -> None:
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], False, LINES),
        doctor(),
        clock(),
        screen=screen,
    )
    token = csrf_from(client.get("/login").text)
    client.post(
        "/login", data={"csrf_token": token, "username": "doctor", "password": "secret-pass"}
    )
    page = client.get(f"/visits/{visit.id}/receipt").text
    code = receipt_code_for(visit.id, clock())
    assert grouped(code) in page and "data:image/svg+xml;base64," in page
    assert f"/v/{code}" in page

    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(client.get(f"/visits/{visit.id}/receipt.pdf").data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert f"核验码：{grouped(code)}" in text and f"/v/{code}" in text
    # The address printed beside the QR code opens the public check.
    public = client.get(f"/v/{code}")
    assert public.status_code == 200 and visit.receipt_number in public.text


def test_a_patient_who_answered_sees_his_answer_not_a_blank_form(
    world: World, client: FlaskClient, clock: FixedClock
) -> None:
    """Issue 24 §5: coming back to the receipt check shows what was recorded."""
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], True, LINES),
        doctor(),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(visit.id, clock())
    page = client.get(f"/v/{code}").text
    assert 'name="asked_more"' in page and 'id="answer"' not in page
    client.post(
        f"/v/{code}",
        data={"csrf_token": csrf_from(page), "asked_more": "yes", "said_paid": "30"},
    )
    again = client.get(f"/v/{code}").text
    assert 'id="answer"' in again and 'name="asked_more"' not in again
    assert "被要求多付费用，实付 ¥30.00" in again and "2026-10-15" in again
    # Another receipt, answered "no": that answer is shown too.
    other, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], False, LINES),
        doctor(),
        clock(),
        screen=screen,
    )
    other_code = receipt_code_for(other.id, clock())
    page = client.get(f"/v/{other_code}").text
    client.post(f"/v/{other_code}", data={"csrf_token": csrf_from(page), "asked_more": "no"})
    assert "未被要求多付费用" in client.get(f"/v/{other_code}").text
