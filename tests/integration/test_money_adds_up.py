"""Issue 24 §1: money that adds up — every list whose total is shown sums to it.

The fund reconciliation's adjustments (医保对账调整) and the reviewers'
disallowances (审核核减) are two named figures, on the pages, the summary PDF
and the exports; the pay-all list's rows add up to its total and to the
transfer it pre-fills.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from app.database import unit_of_work
from app.extensions import db
from app.money import format_yuan, parse_yuan
from app.places.models import Clinic
from app.settlement.models import StatementAdjustment
from app.settlement.operations import record_finding, review_statement, submit_statement
from app.visits.models import Visit
from tests.conftest import FixedClock
from tests.factories import World, set_oversight_policy
from tests.integration.test_oversight_review import BIG, items
from tests.integration.test_settlement import SEPT, record, user, world
from tests.integration.test_settlement_pages import login

__all__ = ["world"]

FUND_EXTRA = 123  # the fund paid 1.23 less than computed on one visit: the district owes it


def _fund_adjustment(visit: Visit, now: object) -> None:
    with unit_of_work() as s:
        s.add(
            StatementAdjustment(
                clinic_id=visit.clinic_id,
                statement_month=SEPT,
                belongs_to=SEPT,
                visit_id=visit.id,
                receipt_number=visit.receipt_number,
                source="fund",
                outcome="different",
                reason="price_difference",
                fund_computed=visit.fund,
                fund_paid=visit.fund - FUND_EXTRA,
                amount=FUND_EXTRA,
                created_at=now,
            )
        )


def reviewed_with_both_kinds(world: World, clock: FixedClock) -> tuple[Visit, Visit]:
    """HD002's September: one visit disallowed by the reviewer, another adjusted by the fund."""
    set_oversight_policy(review=True)
    small = record(world, clock(), clinic="HD002", doctor="doctor2")
    big = record(world, clock(), clinic="HD002", doctor="doctor2", lines=BIG)
    submit_statement("HD002", SEPT, user("doctor2"), clock())
    for item in items("HD002"):
        finding = "disallowed" if item.visit_id == big.id else "accepted"
        record_finding("HD002", SEPT, item.visit_id, finding, user("reviewer"), clock(), "超量")
    _fund_adjustment(small, clock())
    review_statement("HD002", SEPT, user("reviewer"), clock())
    return small, big


def money_cells(row: str) -> list[int]:
    """Every ¥ amount of an HTML row, in order, as fen."""
    found = re.findall(r"(-?)¥([\d,]+\.\d\d)", row)
    return [parse_yuan(sign + value.replace(",", ""), allow_negative=True) for sign, value in found]


def test_the_pay_all_list_adds_up_to_its_total_and_the_transfer(
    client: FlaskClient, world: World, clock: FixedClock
) -> None:
    _small, big = reviewed_with_both_kinds(world, clock)
    login(client, "finance")
    page = client.get(f"/finance/{SEPT}/pay-all").get_data(as_text=True)
    rows = re.findall(r'<tr data-clinic="([^"]+)">(.*?)</tr>', page, re.S)
    assert [code for code, _ in rows] == ["HD002"]
    fiscal, fund_adjustment, deduction, due = money_cells(rows[0][1])
    assert fund_adjustment == FUND_EXTRA and deduction == -big.fiscal
    assert fiscal + fund_adjustment + deduction == due  # the row adds up
    total_row = re.search(r'<tr class="total">(.*?)</tr>', page, re.S)
    assert total_row is not None
    assert money_cells(total_row.group(1)) == [fiscal, fund_adjustment, deduction, due]
    assert f'value="{format_yuan(due)}"' in page  # the transfer pre-filled: the same figure
    # Both figures named, each with its own word.
    for word in ("区财政兜底", "医保对账调整", "审核核减", "应付兜底"):
        assert word in page, word
    # A negative amount reads -¥, never ¥-.
    assert f"-¥{format_yuan(big.fiscal)}" in page and "¥-" not in page


def test_the_district_summary_names_both_figures_on_page_pdf_and_export(
    client: FlaskClient, world: World, clock: FixedClock, tmp_path: Path
) -> None:
    small, big = reviewed_with_both_kinds(world, clock)
    login(client, "finance")
    page = client.get(f"/finance?month={SEPT}").get_data(as_text=True)
    assert "¥-" not in page
    fund = re.search(r'id="total-fund-adjustment">([^<]+)<', page)
    deduction = re.search(r'id="total-review-deduction">([^<]+)<', page)
    assert fund is not None and deduction is not None
    assert fund.group(1) == f"¥{format_yuan(FUND_EXTRA)}"
    assert deduction.group(1) == f"-¥{format_yuan(big.fiscal)}"
    # The summary table: every money column's rows add up to its total line.
    body = page.split('<table id="summary">', 1)[1].split("</table>", 1)[0]
    lines = re.findall(r'<tr data-clinic="[^"]+">(.*?)</tr>', body, re.S)
    total = re.search(r'<tr class="total">(.*?)</tr>', body, re.S)
    assert total is not None
    columns = list(zip(*(money_cells(line)[:4] for line in lines), strict=True))
    assert [sum(c) for c in columns] == money_cells(total.group(1))[:4]

    exported = client.get(f"/finance/{SEPT}.csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(exported)))
    head = table[0]
    row = next(r for r in table if r[0] == "HD002")
    names = ("区财政兜底", "医保对账调整", "审核核减", "应付兜底")
    got = {name: row[head.index(name)] for name in names}
    assert got["医保对账调整"] == format_yuan(FUND_EXTRA)
    assert got["审核核减"] == f"-{format_yuan(big.fiscal)}"
    assert sum(parse_yuan(v, allow_negative=True) for k, v in got.items() if k != "应付兜底") == (
        parse_yuan(got["应付兜底"])
    )
    assert "应拨付" not in exported and ",对账调整," not in exported

    pdf = tmp_path / "summary.pdf"
    pdf.write_bytes(client.get(f"/finance/{SEPT}.pdf").data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "医保对账调整与审核核减" in text and "应拨付" not in text
    line = next(t for t in text.splitlines() if "HD002" in t and "审核" not in t and "-" in t)
    assert format_yuan(FUND_EXTRA) in line and f"-{format_yuan(big.fiscal)}" in line
    clinic_id = db.session.scalar(select(Clinic.id).where(Clinic.code == "HD002"))
    assert clinic_id == small.clinic_id


def test_the_api_names_both_figures(client: FlaskClient, world: World, clock: FixedClock) -> None:
    _small, big = reviewed_with_both_kinds(world, clock)
    statement = client.get("/api/v1/statements/HD002/2026-09", headers=world.auth("finance")).json
    assert statement["fund_adjustment"] == format_yuan(FUND_EXTRA)
    assert statement["review_deduction"] == f"-{format_yuan(big.fiscal)}"
    parts = [statement["figures"]["fiscal"], statement["fund_adjustment"]]
    due = sum(parse_yuan(p, allow_negative=True) for p in [*parts, statement["review_deduction"]])
    assert format_yuan(due) == statement["backstop_due"]
    summary = client.get(
        "/api/v1/districts/440114/summaries/2026-09", headers=world.auth("finance")
    ).json
    row = next(r for r in summary["rows"] if r["clinic"] == "HD002")
    assert row["review_deduction"] == statement["review_deduction"]
    assert summary["totals"]["fund_adjustment"] == format_yuan(FUND_EXTRA)
