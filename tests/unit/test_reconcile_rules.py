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


# --- issue 21: the fund's keys and its own reasons ---------------------------------------


def test_the_clinics_own_number_matches_when_the_mdtrt_id_is_the_platforms() -> None:
    # The platform's mdtrt_id means nothing here; medins_setl_id is our receipt (ipt_otp_no),
    # a sure key: a settlement five days after the visit (after an outage) still matches.
    late = row(
        1,
        mdtrt_id="44011420261015000123",
        medins_setl_id="HD001-2026-000001",
        setl_time=AT + dt.timedelta(days=5),
    )
    (finding,) = reconcile([visit(1)], [late])
    assert (finding.outcome, finding.reason, finding.matched_by) == (
        Outcome.MATCHED,
        Reason.EQUAL,
        "own_number",
    )


def test_last_the_person_date_and_amount_within_the_policys_tolerance() -> None:
    later = row(1, mdtrt_id="P-1", setl_time=AT + dt.timedelta(days=3))
    # One day (the default) is not enough: reported, never used to move money.
    found = reconcile([visit(1)], [later])
    assert {(f.outcome, f.reason) for f in found} == {
        (Outcome.NOT_SETTLED, Reason.NEVER_SETTLED),
        (Outcome.UNKNOWN, Reason.NO_SUCH_RECEIPT),
    }
    # Three days of tolerance (the district's policy): it matches, and so does its reversal.
    cancel = reversal(later, "R1")
    found = reconcile([visit(1)], [later, cancel], dt.timedelta(days=3))
    (only,) = found
    assert (only.outcome, only.reason, only.matched_by) == (
        Outcome.NOT_SETTLED,
        Reason.REVERSED,
        "person_date_amount",
    )
    # A different amount, or two visits that fit as well, is no match: no guessing.
    assert reconcile([visit(1)], [row(1, mdtrt_id="P-1", medfee_sumamt=2000)])[0].visit_id is None
    twins = [visit(1), visit(2, receipt_number="HD001-2026-000002")]
    found = reconcile(twins, [row(1, mdtrt_id="P-1")])
    assert sum(f.visit_id is None for f in found) == 1
    # A visit of a neighbouring month is a candidate only: no finding unless a row names it.
    september = visit(3, visit_date=dt.date(2026, 9, 30), candidate_only=True)
    assert [f.visit_id for f in reconcile([september], [])] == []
    (hit,) = reconcile(
        [september],
        [row(3, mdtrt_id="P-3", setl_time=dt.datetime(2026, 10, 2, 2, 0, tzinfo=dt.UTC))],
        dt.timedelta(days=3),
    )
    assert hit.visit_id == 3 and hit.outcome is Outcome.MATCHED


def test_the_platforms_columns_give_the_exact_reason() -> None:
    visits = [visit(n, in_scope=1770) for n in range(1, 6)]
    rows = [
        row(1, fund=1000, overlmt_selfpay=300),
        row(2, fund=1000, inscp_scp_amt=1500, preselfpay_amt=270),
        row(3, fund=1300, maf_pay=85),
        row(4, refd_setl_flag="1"),
        row(5, fund=1000),
    ]
    found = by_receipt(reconcile(visits, rows))
    assert found["HD001-2026-000001"][:2] == (Outcome.DIFFERENT, Reason.OVER_CEILING)
    assert found["HD001-2026-000002"][:2] == (Outcome.DIFFERENT, Reason.SELF_PAY_PART)
    assert found["HD001-2026-000003"][:2] == (Outcome.DIFFERENT, Reason.MEDICAL_ASSISTANCE)
    # Refunded at the desk: the fund keeps nothing of it, the district owes the whole fund share.
    assert found["HD001-2026-000004"] == (
        Outcome.NOT_SETTLED,
        Reason.REFUND_FLAG,
        1215,
        0,
        True,
    )
    assert found["HD001-2026-000005"][:2] == (Outcome.DIFFERENT, Reason.CAP_OR_RATIO)


FULL_HEADER = (
    "fixmedins_code,setl_id,mdtrt_id,medins_setl_id,psn_no,certno,insutype,med_type,setl_time,"
    "medfee_sumamt,inscp_scp_amt,act_pay_dedc,hifp_pay,fund_pay_sumamt,psn_cash_pay,"
    "refd_setl_flag,acct_pay,psn_part_amt,fulamt_ownpay_amt,overlmt_selfpay,preselfpay_amt,"
    "hifmi_pay,maf_pay,oth_pay,psn_name"
)


def test_the_full_settlement_columns_read_in_gbk_csv_and_xlsx() -> None:
    line = (
        f"H001,S1,44011420261015000123,HD001-2026-000001,4401000000000001,{PERSON},390,11,"
        "2026-10-15 10:02:00,22.70,17.70,0,12.15,13.00,9.70,0,null,9.70,0,3.00,2.00,"
        "null,0.85,0,张三"
    )
    gbk = f"{FULL_HEADER}\n{line}\n".encode("gbk")
    (read,) = read_settlement_file(gbk, "full.csv")
    assert (read.medins_setl_id, read.psn_no, read.insutype, read.med_type) == (
        "HD001-2026-000001",
        "4401000000000001",
        "390",
        "11",
    )
    assert (read.overlmt_selfpay, read.preselfpay_amt, read.maf_pay, read.acct_pay) == (
        300,
        200,
        85,
        0,
    )
    assert read.refd_setl_flag == "0" and read.psn_part_amt == 970
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(FULL_HEADER.split(","))
    sheet.append([None if v == "null" else v for v in line.split(",")])
    out = io.BytesIO()
    book.save(out)
    (from_xlsx,) = read_settlement_file(out.getvalue(), "full.xlsx")
    assert from_xlsx == read
    bad = gbk.replace(b",0,null,9.70", b",7,null,9.70")
    with pytest.raises(SettlementFileRejected) as caught:
        read_settlement_file(bad, "bad.csv")
    assert any("refd_setl_flag" in problem for problem in caught.value.lines())
