"""Patients' answers on the public receipt check: one per receipt, a sane amount, throttled
(issue 23, item 5)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.extensions import db
from app.oversight.checks import screen
from app.oversight.models import ReceiptFeedback
from app.oversight.operations import receipt_code_for
from app.oversight.queries import complaints_by_clinic
from app.visits.operations import VisitRequest, record_visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_verification import LINES, csrf_from, doctor, world

__all__ = ["world"]  # the fixture, with a fresh g per request


def _answer(client: FlaskClient, code: str, asked_more: str, said: str = "") -> int:
    csrf = csrf_from(client.get(f"/v/{code}").text)
    data = {"csrf_token": csrf, "asked_more": asked_more, "said_paid": said}
    return client.post(f"/v/{code}", data=data).status_code


def test_one_answer_per_receipt_which_can_be_changed(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], True, LINES),
        doctor(),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(visit.id, clock())
    for said in ("20", "30", "99"):
        assert _answer(client, code, "yes", said) == 302
    (answer,) = db.session.scalars(select(ReceiptFeedback)).all()
    assert answer.asked_more and answer.said_paid == 9900  # the latest answer stands
    assert complaints_by_clinic("2026-10") == {world.clinic.id: 1}
    # The patient changes his mind: still one row, and no complaint left.
    assert _answer(client, code, "no") == 302
    db.session.expire_all()
    (answer,) = db.session.scalars(select(ReceiptFeedback)).all()
    assert not answer.asked_more and answer.said_paid is None
    assert complaints_by_clinic("2026-10") == {}
    # Every answer, changes included, is on the clinic's chain, which verifies.
    entries = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "receipt.feedback")
    )
    assert entries == 4
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_an_absurd_amount_is_refused(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    visit, _ = record_visit(
        VisitRequest("HD001", world.ids["insured_village"], True, LINES),
        doctor(),
        clock(),
        screen=screen,
    )
    code = receipt_code_for(visit.id, clock())
    page = client.get(f"/v/{code}")
    r = client.post(f"/v/{code}", data={"csrf_token": csrf_from(page.text),
                                        "asked_more": "yes", "said_paid": "99999"})  # fmt: skip
    assert r.status_code == 422 and "金额最多为 1000.00 元" in r.text
    assert db.session.scalar(select(func.count()).select_from(ReceiptFeedback)) == 0
    assert _answer(client, code, "yes", "1000") == 302  # the bound itself is accepted


def test_answers_are_throttled_per_address(
    app: Flask, world: World, client: FlaskClient, clock: FixedClock
) -> None:
    app.config["FEEDBACK_LIMIT"] = "3/hour"
    codes = []
    for _ in range(4):
        visit, _ = record_visit(
            VisitRequest("HD001", world.ids["insured_village"], True, LINES),
            doctor(),
            clock(),
            screen=screen,
        )
        codes.append(receipt_code_for(visit.id, clock()))
    statuses = [_answer(client, code, "yes", "50") for code in codes]
    assert statuses == [302, 302, 302, 429]
    assert client.get(f"/v/{codes[3]}").status_code == 200  # reading the receipt still works
    assert db.session.scalar(select(func.count()).select_from(ReceiptFeedback)) == 3
