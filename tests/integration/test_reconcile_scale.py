"""The monthly file streamed (issue 21 item 5, issue 22 goal 3), on SQLite and PostgreSQL.

The import reads the file a row at a time, stages it a chunk at a time and
matches the month clinic by clinic; these tests check what that must not
change — the findings, the adjustments, all or nothing — and that a file with
many bad rows is refused with a bounded, counted list of problems.  Timing and
memory are measured in ``bench/settlement_file.py``, never asserted here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from flask import Flask
from openpyxl import Workbook
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.extensions import db
from app.people.rules import make_id_number
from app.reconcile.files import LISTED_PER_FIELD, SettlementFileRejected
from app.reconcile.models import FundFile, FundFinding, FundSettlement
from app.reconcile.operations import import_settlement_file
from app.reconcile.platform import Disagreements, SimulatedPlatform, settlement_csv
from app.reconcile.queries import platform_visits
from app.reconcile.rules import SettlementRow
from app.settlement.models import StatementAdjustment
from tests.factories import World
from tests.integration.test_reconcile import OCT, user, world  # noqa: F401 (the fixture)

NOW = dt.datetime(2026, 11, 3, 2, 0, tzinfo=dt.UTC)


def _month_rows(**bent: int) -> list[SettlementRow]:
    platform = SimulatedPlatform(Disagreements(**bent))
    return platform.run_month(platform_visits("440114", OCT), OCT)


def _stray(count: int) -> list[SettlementRow]:
    """Rows of an institution code no clinic of the district has (each an unknown clinic)."""
    at = dt.datetime(2026, 10, 9, 2, 0, tzinfo=dt.UTC)
    person = make_id_number("440114", dt.date(1990, 1, 1), 1)
    return [
        SettlementRow(line=0, insurance_code="NOWHERE01", setl_id=f"STRAY{n}",
                      mdtrt_id=f"X{n}", certno=person, setl_time=at,
                      medfee_sumamt=1000, inscp_scp_amt=1000, act_pay_dedc=0, hifp_pay=500,
                      fund_pay_sumamt=500, psn_cash_pay=500)
        for n in range(count)
    ]  # fmt: skip


def _written() -> tuple[int, ...]:
    db.session.rollback()
    return tuple(
        db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (FundFile, FundSettlement, FundFinding, StatementAdjustment, AuditEntry)
    )


def _findings() -> list[tuple[object, ...]]:
    db.session.rollback()
    return [
        tuple(r)
        for r in db.session.execute(
            select(
                FundFinding.clinic_id,
                FundFinding.visit_id,
                FundFinding.receipt_number,
                FundFinding.outcome,
                FundFinding.reason,
                FundFinding.fund_computed,
                FundFinding.fund_paid,
                FundFinding.backstopped,
                FundFinding.setl_ids,
                FundFinding.matched_by,
            )
        )
    ]


def test_a_file_of_many_chunks_matches_exactly_as_one_chunk(
    app: Flask,
    world: World,  # noqa: F811 (the fixture)
) -> None:
    rows = _month_rows(lapsed=1, price=1, rejected=1, reversed=1, duplicate=1, unknown=1)
    data = settlement_csv([*rows, *_stray(5)], "gbk")
    finance = user("finance")
    # The whole file as one chunk, previewed (the same path, rolled back) …
    whole = import_settlement_file(data, "oct.csv", "440114", OCT, finance, NOW, preview=True)
    assert whole.preview and _written()[:4] == (0, 0, 0, 0)
    # … then imported two rows a chunk (staging and the stray rows' pages both).
    small = import_settlement_file(data, "oct.csv", "440114", OCT, finance, NOW, chunk=2)
    assert not small.preview
    assert len(rows) + 5 > 2 * 4  # many chunks
    for name in ("rows", "skipped_rows", "outcomes", "adjustments", "adjustment_total", "clinics"):
        assert getattr(small, name) == getattr(whole, name), name
    assert small.rows == len(rows) + 5
    assert small.outcomes["unknown"] == 1 + 5  # the platform's unknown receipt, the stray rows
    assert small.adjustments == 4 and small.adjustment_total != 0
    files, settlements, findings, adjustments, _ = _written()
    assert (files, settlements, adjustments) == (1, len(rows) + 5, 4)
    assert findings == sum(small.outcomes.values())
    chunked = sorted(_findings(), key=repr)

    # The same month imported at once on a fresh start gives the very same findings:
    # the same file again (any chunk) is already imported and changes nothing.
    again = import_settlement_file(data, "oct.csv", "440114", OCT, finance, NOW, chunk=1)
    assert again.already_imported and sorted(_findings(), key=repr) == chunked
    # A second file with one more row re-matches the month: old rows skipped, not doubled.
    extra = dataclasses.replace(_stray(6)[-1], setl_id="STRAY-LATE")
    more = import_settlement_file(
        settlement_csv([*rows, *_stray(5), extra], "gbk"), "oct2.csv", "440114", OCT,
        finance, NOW, chunk=3,
    )  # fmt: skip
    assert more.skipped_rows == len(rows) + 5 and more.adjustments == 0
    assert sorted(_findings(), key=repr) == sorted(
        [*chunked, (None, None, "X5", "unknown", "unknown_clinic", 0, 500, False, "STRAY-LATE",
                    "")], key=repr,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_with_every_row_bad_is_refused_with_a_bounded_count_and_writes_nothing(
    app: Flask,
    world: World,  # noqa: F811 (the fixture)
    kind: str,
) -> None:
    good = _month_rows()
    bad = [dataclasses.replace(good[n % len(good)], setl_id=f"BAD{n}") for n in range(3 * 20 + 7)]
    text = settlement_csv(bad).decode()
    lines = text.splitlines()
    # One bad value per row: an amount with three decimals; every fifth an ID number too.
    cells = [line.split(",") for line in lines]
    for number, row in enumerate(cells[1:], start=2):
        row[5] = "12.345"
        if number % 5 == 0:
            row[3] = row[3][:-1] + ("0" if row[3][-1] != "0" else "1")
    if kind == "csv":
        data = ("\r\n".join(",".join(c) for c in cells) + "\r\n").encode("gbk")
    else:
        book = Workbook()
        for row in cells:
            book.active.append(row)
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    before = _written()
    with pytest.raises(SettlementFileRejected) as refused:
        import_settlement_file(data, f"bad.{kind}", "440114", OCT, user("finance"), NOW, chunk=4)
    rejected = refused.value
    rows = len(cells) - 1
    listed = rejected.file_problems
    assert [p.field for p in listed].count("medfee_sumamt") == LISTED_PER_FIELD
    assert [p.line for p in listed if p.field == "medfee_sumamt"] == list(
        range(2, 2 + LISTED_PER_FIELD)
    )  # the first, in line order
    assert rejected.omitted["medfee_sumamt"] == rows - LISTED_PER_FIELD
    assert rejected.total == rejected.counts["medfee_sumamt"] == rows
    report = rejected.lines()
    assert report[0] == f"bad.{kind}:2: medfee_sumamt: amount has more than two decimals: '12.345'"
    assert report[-1] == (
        f"bad.{kind}: medfee_sumamt: {rows - LISTED_PER_FIELD} more problems not listed "
        f"({rows} in all)"
    )
    assert len(report) == LISTED_PER_FIELD + 1  # the ID numbers are not looked at: no row loaded
    assert _written() == before  # all or nothing: nothing

    # A file whose rows load but mean something impossible: the ID numbers, and a
    # settlement id repeated, each counted per field, the first listed.
    meaning = [dataclasses.replace(good[n % len(good)], setl_id=f"M{n // 2}") for n in range(50)]
    cells = [line.split(",") for line in settlement_csv(meaning).decode().splitlines()]
    for row in cells[1:]:
        row[3] = row[3][:-1] + ("0" if row[3][-1] != "0" else "1")
    data = ("\r\n".join(",".join(c) for c in cells) + "\r\n").encode()
    with pytest.raises(SettlementFileRejected) as refused:
        import_settlement_file(data, "m.csv", "440114", OCT, user("finance"), NOW, chunk=7)
    assert refused.value.counts == {"certno": 50, "setl_id": 25}
    assert refused.value.omitted == {"certno": 30, "setl_id": 5}
    repeats = [p for p in refused.value.file_problems if p.field == "setl_id"]
    assert repeats[0].line == 3 and repeats[0].message == "repeats line 2"
    assert _written() == before
