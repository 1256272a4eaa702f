"""The daily close sheet (日结单) and closing a day (issue 10), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.visits.models import DayClose, Visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_register_pages import record
from tests.integration.test_terminal_pages import (  # noqa: F401 (request_scoped_g: a fixture)
    csrf_from,
    login,
    request_scoped_g,
    seed,
)

DAY = "2026-10-15"


@pytest.fixture
def world(app: Flask, clock: FixedClock, request_scoped_g: None) -> World:  # noqa: F811
    return seed(clock())


def cell(html: str, cell_id: str) -> str:
    m = re.search(rf'id="{cell_id}">([^<]*)<', html)
    assert m, cell_id
    return m.group(1).strip()


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def a_day(client: FlaskClient, world: World) -> str:
    csrf = login(client)
    record(client, world, csrf, "d-1")
    community = record(client, world, csrf, "d-2", who="insured_community", injection=False)
    record(client, world, csrf, "d-3", who="uninsured_village", injection=False)
    record(client, world, csrf, "d-4", visited_at="2026-10-14T09:00")  # another day
    voided = client.post(f"/visits/{community}/void", data={"csrf_token": csrf, "reason": "重复"})
    assert voided.status_code == 303
    return csrf


def test_the_sheet_sums_the_days_visits(client: FlaskClient, world: World) -> None:
    a_day(client, world)
    sheet = client.get(f"/visits/daily?day={DAY}")
    assert sheet.status_code == 200
    db.session.expire_all()
    visits = db.session.scalars(
        select(Visit).where(Visit.visit_date == dt.date(2026, 10, 15))
    ).all()
    valid = [v for v in visits if v.voided_at is None]
    assert len(visits) == 3 and len(valid) == 2
    html = sheet.text
    assert cell(html, "d-visits") == "2"
    assert cell(html, "d-voided") == "1"
    assert cell(html, "d-registration") == yuan(sum(v.registration for v in valid))
    assert cell(html, "d-injection") == yuan(sum(v.injection_fee for v in valid))
    assert cell(html, "d-share") == yuan(sum(v.copay + v.self_pay for v in valid))
    assert cell(html, "d-cash") == yuan(sum(v.patient for v in valid))
    assert cell(html, "d-fund") == yuan(sum(v.fund for v in valid))
    # cash by kind adds up
    assert sum(v.registration + v.injection_fee + v.copay + v.self_pay for v in valid) == sum(
        v.patient for v in valid
    )
    assert "重复" in html and "尚未日结" in html and 'id="close-day"' in html
    pdf = client.get(f"/visits/daily.pdf?day={DAY}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert "日结单" in client.get("/visits/today").text


def test_closing_is_recorded_and_a_late_visit_is_marked(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    csrf = a_day(client, world)
    before = client.get(f"/visits/daily?day={DAY}").text
    closed = client.post("/visits/daily/close", data={"csrf_token": csrf, "day": DAY})
    assert closed.status_code == 303
    db.session.expire_all()
    row = db.session.scalars(select(DayClose)).one()
    assert row.day.isoformat() == DAY and row.closed_at == clock()
    assert (row.visits, row.voided) == (2, 1)
    assert yuan(row.cash) == cell(before, "d-cash")
    assert yuan(row.registration) == cell(before, "d-registration")
    assert yuan(row.injection_fee) == cell(before, "d-injection")
    assert yuan(row.patient_share) == cell(before, "d-share")
    sheet = client.get(closed.location).text
    assert "已日结" in sheet and 'id="close-day"' not in sheet
    again = client.post("/visits/daily/close", data={"csrf_token": csrf, "day": DAY})
    assert "该日已经日结" in client.get(again.location).text
    assert len(db.session.scalars(select(DayClose)).all()) == 1

    # A late visit into the closed day: allowed (the month is open) and marked.
    clock.advance(minutes=10)
    late = record(client, world, csrf, "d-5", visited_at=f"{DAY}T09:30")
    sheet = client.get(f"/visits/daily?day={DAY}").text
    assert cell(sheet, "d-visits") == "3"
    assert sheet.count("日结后补录") == 1
    late_row = re.search(r'data-receipt="([^"]+)">(?:(?!</tr>).)*日结后补录', sheet, re.S)
    db.session.expire_all()
    assert late_row and late_row.group(1) == db.session.get(Visit, late).receipt_number
    register = client.get("/visits/register").text
    assert register.count("日结后补录") == 1
    pdf = client.get(f"/visits/daily.pdf?day={DAY}")
    assert pdf.status_code == 200
    # The close keeps the figures signed at closing.
    db.session.expire_all()
    assert db.session.scalars(select(DayClose)).one().visits == 2


def test_closing_a_future_day_is_refused_and_only_doctors_close(
    client: FlaskClient, world: World
) -> None:
    csrf = login(client)
    # A day after today is read as today (nothing to show ahead) and closing it closes today.
    r = client.post("/visits/daily/close", data={"csrf_token": csrf, "day": "2026-10-20"})
    assert r.location.endswith(f"day={DAY}")
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "reviewer")
    assert client.get(f"/visits/daily?day={DAY}").status_code == 403


def test_each_close_freezes_its_section_and_later_entries_close_on_their_own(
    client: FlaskClient, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    """Issue 24 §2: a close freezes what it closed; later entries are their own section
    with their own subtotal and their own close; the sheet names the doctor, not his login."""
    from app.auth.models import User

    doctor = db.session.scalars(select(User).where(User.username == "doctor")).one()
    doctor.display_name = "王医生"
    db.session.commit()
    csrf = a_day(client, world)
    first = client.get(f"/visits/daily?day={DAY}").text
    first_cash = cell(first, "d-cash")
    assert client.post("/visits/daily/close", data={"csrf_token": csrf, "day": DAY}).status_code
    closed = client.get(f"/visits/daily?day={DAY}").text
    assert cell(closed, "s1-cash") == first_cash and "王医生" in closed
    assert ">doctor<" not in closed and " doctor</" not in closed

    # Later: one more visit, and one visit of the closed section voided.
    clock.advance(minutes=10)
    record(client, world, csrf, "d-6", visited_at=f"{DAY}T09:45")
    db.session.expire_all()
    early = db.session.scalars(
        select(Visit)
        .where(Visit.visit_date == dt.date(2026, 10, 15), Visit.voided_at.is_(None))
        .order_by(Visit.id)
    ).first()
    assert early is not None
    voided = client.post(f"/visits/{early.id}/void", data={"csrf_token": csrf, "reason": "录错"})
    assert voided.status_code == 303
    sheet = client.get(f"/visits/daily?day={DAY}").text
    # The closed section is what was signed: same cash, same visits.
    assert cell(sheet, "s1-cash") == first_cash and cell(sheet, "s1-visits") == "2"
    # The later section: the new visit less the voided one, with its own subtotal.
    db.session.expire_all()
    late = db.session.scalars(select(Visit).order_by(Visit.id.desc())).first()
    assert late is not None
    assert cell(sheet, "s2-cash") == yuan(late.patient - early.patient)
    assert cell(sheet, "s2-visits") == "0"  # one in, one out
    assert f'data-reversal="{early.receipt_number}"' in sheet
    # The day's total is the sections' sum.
    assert cell(sheet, "d-cash") == yuan(
        sum(
            v.patient
            for v in db.session.scalars(select(Visit))
            if v.voided_at is None and v.visit_date == dt.date(2026, 10, 15)
        )
    )
    assert 'id="close-day"' in sheet and "有日结后录入，尚未日结" in sheet

    # Closed on its own: a second close, with the second section's figures.
    clock.advance(minutes=5)
    assert client.post("/visits/daily/close", data={"csrf_token": csrf, "day": DAY}).status_code
    db.session.expire_all()
    closes = db.session.scalars(select(DayClose).order_by(DayClose.seq)).all()
    assert [c.seq for c in closes] == [1, 2]
    assert yuan(closes[0].cash) == first_cash
    assert closes[1].cash == late.patient - early.patient and closes[1].voided == 1
    sheet = client.get(f"/visits/daily?day={DAY}").text
    assert "第 1 次日结" in sheet and "第 2 次日结" in sheet and 'id="close-day"' not in sheet
    # Nothing new: a third close is refused.
    again = client.post("/visits/daily/close", data={"csrf_token": csrf, "day": DAY})
    assert "日结后没有新的录入" in client.get(again.location).text

    pdf = tmp_path / "daily.pdf"
    pdf.write_bytes(client.get(f"/visits/daily.pdf?day={DAY}").data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "第 1 次日结" in text and "第 2 次日结" in text and "王医生" in text
    assert text.count("小计") == 2 and "全天合计" in text and "冲减" in text
    assert "doctor" not in text
