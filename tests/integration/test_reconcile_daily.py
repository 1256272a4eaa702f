"""Daily reconciliation with the platform simulator (issue 21, item 2; SPEC §9).

Four visits settled in real time; on the platform one is refunded at its own
desk, one settlement is lost and one is altered.  ``flask reconcile daily``
sends the day's totals (3201), finds they differ, uploads the detail file
(9101/3202), fetches the result (9102) and lists every kind of difference;
each is then resolved by a person, audited, and a re-run adds nothing.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.errors import InvalidInput
from app.extensions import db
from app.insurance.models import InsuranceExchange
from app.reconcile.daily import DetailRow, detail_file, totals
from app.reconcile.models import DailyDifference
from app.reconcile.operations import set_difference_status
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import World
from tests.integration.test_insurance_platform import (  # noqa: F401 (fixtures)
    platform,
    record,
    request_scoped_g,
    sim,
)
from tests.simulator import Simulator


def test_the_detail_file_is_the_platforms_format() -> None:
    rows = [
        DetailRow("S1", "M1", "", 2270, 1215, 0, True),
        DetailRow("S1", "M1", "", -2270, -1215, 0, True),
        DetailRow("S2", "M2", "P2", 1000, 500, 0, False),
    ]
    with zipfile.ZipFile(io.BytesIO(detail_file(rows))) as archive:
        (name,) = archive.namelist()
        text = archive.read(name).decode("utf-8")
    assert text.splitlines() == [
        "S1\tM1\tnull\t22.70\t12.15\t0.00\t1",
        "S1\tM1\tnull\t-22.70\t-12.15\t0.00\t1",
        "S2\tM2\tP2\t10.00\t5.00\t0.00\t0",
    ]
    assert totals(rows) == (1000, 500, 0, 2)  # a refund's negative is no settlement


def test_every_kind_of_difference_is_found_and_resolved(
    app: Flask,
    client: FlaskClient,
    world: World,
    platform: Simulator,  # noqa: F811 (the fixture)
    clock: FixedClock,
) -> None:
    for _ in range(4):
        assert record(client, world).status_code == 201
    # A fifth, voided: the clinic reverses its settlement (2208); both sides hold the pair.
    voided = record(client, world).json
    resp = client.post(
        f"/api/v1/visits/{voided['id']}/void", json={"reason": "wrong patient"},
        headers=world.auth("doctor"),
    )  # fmt: skip
    assert resp.json["insurance"]["status"] == "reversed"
    day = db.session.scalar(select(func.min(Visit.visit_date)))
    db.session.rollback()
    cli = app.test_cli_runner()

    agreed = cli.invoke(args=["reconcile", "daily", "--day", f"{day}"])
    assert agreed.exit_code == 0, agreed.output
    assert "agreed" in agreed.output and "0 new differences" in agreed.output

    refunded, lost, altered, _same, _voided = (s["setl_id"] for s in platform.settlements())
    platform.post("admin/desk-refund", {"setl_id": refunded})
    platform.post("admin/lose-settlement", {"setl_id": lost})
    platform.post("admin/alter-settlement", {"setl_id": altered, "fund_pay_sumamt": "1.00"})

    out = cli.invoke(args=["reconcile", "daily", "--day", f"{day}"])
    assert out.exit_code == 0, out.output
    assert "differs" in out.output and "4 new differences" in out.output
    db.session.rollback()
    found = {
        (d.kind, d.setl_id, d.negative): d
        for d in db.session.scalars(select(DailyDifference).order_by(DailyDifference.id))
    }
    assert set(found) == {
        ("refund_flag", refunded, False),  # we hold it as settled, the platform as refunded
        ("platform_only", refunded, True),  # the desk refund's negative row
        ("clinic_only", lost, False),
        ("amount", altered, False),
    }
    assert all(d.status == "pending" for d in found.values())
    infnos = set(db.session.scalars(select(InsuranceExchange.infno)))
    assert {"3201", "9101", "3202", "9102"} <= infnos
    db.session.rollback()

    finance = db.session.scalar(select(User).where(User.username == "finance"))
    assert finance is not None
    with pytest.raises(InvalidInput):
        set_difference_status(next(iter(found.values())).id, "resolved", " ", finance, clock())
    for difference in found.values():
        set_difference_status(difference.id, "checked", "查看了医保窗口记录", finance, clock())
        set_difference_status(difference.id, "resolved", "已与医保局核对平账", finance, clock())
    db.session.rollback()
    rows = db.session.scalars(select(DailyDifference)).all()
    assert {(r.status, r.changed_by_id) for r in rows} == {("resolved", finance.id)}
    actions = list(
        db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("daily_difference.%"))
        )
    )
    assert actions.count("daily_difference.found") == 4
    assert actions.count("daily_difference.status") == 8

    again = cli.invoke(args=["reconcile", "daily", "--day", f"{day}"])
    assert again.exit_code == 0 and "0 new differences" in again.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(DailyDifference)) == 4
    verify = cli.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_finance_resolves_a_difference_on_the_page_and_the_town_sees_only_its_own(
    app: Flask,
    client: FlaskClient,
    world: World,
    platform: Simulator,  # noqa: F811 (the fixture)
    request_scoped_g: None,  # noqa: F811 (the fixture)
) -> None:
    from tests.integration.test_reconcile import csrf_from, page_client

    assert record(client, world).status_code == 201
    day = db.session.scalar(select(func.min(Visit.visit_date)))
    db.session.rollback()
    (settled,) = platform.settlements()
    platform.post("admin/lose-settlement", {"setl_id": settled["setl_id"]})
    out = app.test_cli_runner().invoke(args=["reconcile", "daily", "--day", f"{day}"])
    assert "1 new differences" in out.output, out.output
    db.session.rollback()

    finance, _csrf = page_client(app, "finance")
    page = finance.get(f"/reconcile/daily?day={day}").text
    assert 'data-kind="clinic_only"' in page and "本站有，中心无" in page and "待处理" in page
    (difference,) = db.session.scalars(select(DailyDifference)).all()
    db.session.rollback()
    token = csrf_from(page)
    empty = finance.post(
        f"/reconcile/daily/{difference.id}",
        data={"csrf_token": token, "day": f"{day}", "status": "resolved", "reason": ""},
        follow_redirects=True,
    )
    assert "待处理" in empty.text and 'data-status="pending"' in empty.text
    done = finance.post(
        f"/reconcile/daily/{difference.id}",
        data={"csrf_token": token, "day": f"{day}", "status": "resolved", "reason": "医保局补录"},
        follow_redirects=True,
    )
    assert 'data-status="resolved"' in done.text and "医保局补录" in done.text

    town, _csrf = page_client(app, "town_reviewer")  # 赤坭镇: HD001 is not in it
    assert "当日与医保中心对账无差异" in town.get(f"/reconcile/daily?day={day}").text
    reviewer, csrf = page_client(app, "reviewer")
    assert 'data-kind="clinic_only"' in reviewer.get(f"/reconcile/daily?day={day}").text
    denied = reviewer.post(
        f"/reconcile/daily/{difference.id}",
        data={"csrf_token": csrf, "day": f"{day}", "status": "pending", "reason": "x"},
    )
    assert denied.status_code == 403
