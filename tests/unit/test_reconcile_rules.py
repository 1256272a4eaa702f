"""The reconciliation rules and the settlement file reader, on worked cases (SPEC §7)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from app.people.rules import make_id_number
from app.reconcile.files import SettlementFileRejected, read_settlement_file
from app.reconcile.platform import settlement_csv
from app.reconcile.rules import (
    Outcome,
    Reason,
    RecordedVisit,
    SettlementRow,
    adjustment_delta,
    reconcile,
)
from app.settlement.rules import statement_month_for

PERSON = make_id_number("440114", dt.date(1960, 3, 7), 100)
OTHER = make_id_number("440114", dt.date(1970, 5, 1), 201)
AT = dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


def visit(n: int, fund: int = 1215, **changes: object) -> RecordedVisit:
    values: dict[str, object] = {
        "visit_id": n,
        "clinic_code": "HD001",
        "insurance_code": "H001",
        "receipt_number": f"HD001-2026-{n:06d}",
        "id_number": PERSON,
        "visit_date": dt.date(2026, 10, 15),
        "programme": True,
        "insured": True,
        "voided": False,
        "lines_total": 2270,
        "deductible_applied": 0,
        "fund": fund,
    }
    values.update(changes)
    return RecordedVisit(**values)  # type: ignore[arg-type]


def row(n: int, fund: int = 1215, setl: str | None = None, **changes: object) -> SettlementRow:
    values: dict[str, object] = {
        "line": n + 1,
        "insurance_code": "H001",
        "setl_id": setl or f"S{n}",
        "mdtrt_id": f"HD001-2026-{n:06d}",
        "certno": PERSON,
        "setl_time": AT,
        "medfee_sumamt": 2270,
        "inscp_scp_amt": 1770,
        "act_pay_dedc": 0,
        "hifp_pay": fund,
        "fund_pay_sumamt": fund,
        "psn_cash_pay": 2270 - fund,
    }
    values.update(changes)
    return SettlementRow(**values)  # type: ignore[arg-type]


def reversal(of: SettlementRow, setl: str) -> SettlementRow:
    return SettlementRow(
        of.line + 100,
        of.insurance_code,
        setl,
        of.mdtrt_id,
        of.certno,
        of.setl_time + dt.timedelta(days=2),
        -of.medfee_sumamt,
        -of.inscp_scp_amt,
        -of.act_pay_dedc,
        -of.hifp_pay,
        -of.fund_pay_sumamt,
        -of.psn_cash_pay,
    )


def by_receipt(findings: list) -> dict[str, tuple[Outcome, Reason, int, int, bool]]:  # type: ignore[type-arg]
    return {
        f.receipt_number: (f.outcome, f.reason, f.fund_computed, f.fund_paid, f.backstopped)
        for f in findings
    }


def test_every_outcome_with_both_figures_and_a_reason() -> None:
    first = row(5)
    visits = [
        visit(1),  # settled as computed
        visit(2),  # the fund priced it lower
        visit(3),  # lapsed on the platform: the fund paid nothing
        visit(4),  # never settled
        visit(5),  # settled, then reversed
        visit(6),  # settled twice
        visit(7, deductible_applied=100),  # a deductible the fund counted differently
        visit(8, programme=False),  # a non-programme visit: reported, not backstopped
        visit(9, voided=True),  # voided here, settled there
        visit(10, fund=0, insured=False),  # nothing expected, nothing paid
    ]
    rows = [
        row(1),
        row(2, fund=1094, medfee_sumamt=2043),
        row(3, fund=0),
        first,
        reversal(first, "R5"),
        row(6, setl="S6a"),
        row(6, setl="S6b"),
        row(7, fund=1145, act_pay_dedc=0),
        row(8, fund=1000),
        row(9),
        row(11),  # a receipt this system never recorded
        row(12, insurance_code="H999"),  # a clinic that is not ours
    ]
    found = by_receipt(reconcile(visits, rows))
    assert found["HD001-2026-000001"] == (Outcome.MATCHED, Reason.EQUAL, 1215, 1215, True)
    assert found["HD001-2026-000002"] == (Outcome.DIFFERENT, Reason.PRICE, 1215, 1094, True)
    assert found["HD001-2026-000003"] == (Outcome.DIFFERENT, Reason.LAPSED, 1215, 0, True)
    assert found["HD001-2026-000004"] == (Outcome.NOT_SETTLED, Reason.NEVER_SETTLED, 1215, 0, True)
    assert found["HD001-2026-000005"] == (Outcome.NOT_SETTLED, Reason.REVERSED, 1215, 0, True)
    assert found["HD001-2026-000006"] == (Outcome.DUPLICATE, Reason.DUPLICATE, 1215, 1215, True)
    assert found["HD001-2026-000007"] == (Outcome.DIFFERENT, Reason.DEDUCTIBLE, 1215, 1145, True)
    assert found["HD001-2026-000008"] == (Outcome.DIFFERENT, Reason.CAP_OR_RATIO, 1215, 1000, False)
    assert found["HD001-2026-000009"] == (Outcome.UNKNOWN, Reason.VOIDED_HERE, 0, 1215, False)
    assert found["HD001-2026-000010"] == (Outcome.MATCHED, Reason.EQUAL, 0, 0, True)
    assert found["HD001-2026-000011"][:2] == (Outcome.UNKNOWN, Reason.NO_SUCH_RECEIPT)
    assert found["HD001-2026-000012"][:2] == (Outcome.UNKNOWN, Reason.UNKNOWN_CLINIC)
    assert len(found) == 12  # one finding per visit and per unmatched row


def test_a_match_is_confirmed_by_id_number_and_date() -> None:
    visits = [visit(1), visit(2)]
    rows = [row(1, certno=OTHER), row(2, setl_time=AT + dt.timedelta(days=3))]
    found = by_receipt(reconcile(visits, rows))
    # The unconfirmed rows are reported and never move money …
    reasons = sorted(f.reason for f in reconcile(visits, rows) if f.outcome is Outcome.UNKNOWN)
    assert reasons == [Reason.DATE_MISMATCH, Reason.ID_MISMATCH]
    # … and the visits count as not settled.
    assert found["HD001-2026-000001"][0] is Outcome.NOT_SETTLED
    # A settlement the next morning still confirms.
    late = reconcile([visit(3)], [row(3, setl_time=AT + dt.timedelta(hours=20))])
    assert late[0].outcome is Outcome.MATCHED


def test_adjustments_are_deltas_so_reruns_book_nothing() -> None:
    (finding,) = reconcile([visit(2)], [row(2, fund=1094, medfee_sumamt=2043)])
    assert finding.difference == 121  # the district owes 1.21 more
    assert adjustment_delta(finding, 0) == 121
    assert adjustment_delta(finding, 121) == 0  # already booked
    # The fund later settles the full amount: the booked 1.21 is taken back.
    (later,) = reconcile([visit(2)], [row(2)])
    assert adjustment_delta(later, 121) == -121
    (report_only,) = reconcile([visit(8, programme=False)], [row(8, fund=1000)])
    assert adjustment_delta(report_only, 0) == 0


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({}, "2026-10"),
        ({"2026-10": "reviewed"}, "2026-10"),  # unpaid: its own statement
        ({"2026-10": "paid"}, "2026-11"),
        ({"2026-10": "paid", "2026-11": "submitted"}, "2026-12"),  # next *open* one
        ({"2026-10": "paid", "2026-11": "paid"}, "2026-12"),
    ],
)
def test_a_paid_months_adjustment_goes_on_the_next_open_statement(
    statuses: dict[str, str], expected: str
) -> None:
    assert statement_month_for("2026-10", statuses) == expected
    assert statement_month_for("2026-12", {"2026-12": "paid"}) == "2027-01"


# --- the file --------------------------------------------------------------------


ROWS = [row(1), row(2, fund=1094, medfee_sumamt=2043)]


def test_csv_in_utf8_with_bom_and_in_gbk_reads_the_same() -> None:
    plain = settlement_csv(ROWS)
    assert read_settlement_file(plain, "f.csv") == read_settlement_file(
        b"\xef\xbb\xbf" + plain, "f.csv"
    )
    gbk = plain.decode().replace("H001", "花都H001").encode("gbk")
    assert [r.insurance_code for r in read_settlement_file(gbk, "g.csv")] == ["花都H001"] * 2


def test_xlsx_numbers_become_exact_fen() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    text = settlement_csv([row(1, fund=1215)]).decode().splitlines()
    header = text[0].split(",")
    sheet.append([*header, "psn_name"])  # the platform's own extra column is ignored
    values: list[object] = text[1].split(",")
    values[4] = dt.datetime(2026, 10, 15, 10, 2)
    for i in range(5, 11):
        values[i] = float(str(values[i]))  # 12.15 as a spreadsheet number
    sheet.append([*values, "张三"])
    out = io.BytesIO()
    book.save(out)
    (read,) = read_settlement_file(out.getvalue(), "f.xlsx")
    assert read.fund_pay_sumamt == 1215 and read.psn_cash_pay == 1055
    assert read.setl_time == dt.datetime(2026, 10, 15, 2, 2, tzinfo=dt.UTC)


def test_every_bad_row_is_reported_with_its_line_and_field() -> None:
    text = settlement_csv([*ROWS, row(3)]).decode().splitlines()
    bad_id = text[1].replace(PERSON, PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1"))
    mixed = text[2].replace("10.94", "-10.94")
    repeated = text[3].replace("S3", "S1")
    data = "\n".join([text[0], bad_id, mixed, repeated, text[1].replace("2026-10-15", "15/10")])
    with pytest.raises(SettlementFileRejected) as caught:
        read_settlement_file(data.encode(), "oct.csv")
    lines = caught.value.lines()
    assert any(line.startswith("oct.csv:2: certno:") for line in lines)
    assert any(line.startswith("oct.csv:3: ") and "mixes" in line for line in lines)
    assert "oct.csv:4: setl_id: repeats line 2" in lines
    assert any(line.startswith("oct.csv:5: setl_time:") for line in lines)


def test_a_missing_column_is_named() -> None:
    text = settlement_csv(ROWS).decode().replace("hifp_pay", "hifp")
    with pytest.raises(SettlementFileRejected) as caught:
        read_settlement_file(text.encode(), "x.csv")
    assert caught.value.lines() == ["x.csv:1: hifp_pay: required column is missing"]
