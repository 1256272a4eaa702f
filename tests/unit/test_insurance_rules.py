"""The national interface: envelope, answers, a visit's claim, the settled split (SPEC §7, §9)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.insurance import rules
from app.insurance.rules import (
    BadAnswer,
    ExpectedLine,
    FeeResult,
    Institution,
    Operator,
    Refused,
    SM3Signer,
    message_id,
    read_answer,
    settled_split,
)

AT = dt.datetime(2026, 10, 15, 2, 0, 5, tzinfo=dt.UTC)  # 10:00:05 in Shanghai


def test_msgid_is_the_institution_the_local_time_and_a_sequence() -> None:
    msgid = message_id("H44011400001", AT, 7)
    assert msgid == "H44011400001" + "20261015100005" + "0007"
    assert len(msgid) == 30
    with pytest.raises(ValueError):
        message_id("H440114", AT, 1)
    with pytest.raises(ValueError):
        message_id("H44011400001", AT, 10000)


def test_envelope_carries_every_field_and_is_signed() -> None:
    institution = Institution("H44011400001", "大涡村卫生站", "440114", "440114")
    body = rules.envelope(
        "2207", "m" * 30, AT, institution, Operator("doctor", "张医生"), "S1", {"data": {}},
        SM3Signer("key"),
    )  # fmt: skip
    for name in ("infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code",
                 "dev_no", "dev_safe_info", "cainfo", "signtype", "infver", "opter_type", "opter",
                 "opter_name", "inf_time", "fixmedins_code", "fixmedins_name", "sign_no", "input"):
        assert name in body  # fmt: skip
    assert body["inf_time"] == "2026-10-15 10:00:05" and body["signtype"] == "SM3"
    assert len(body["cainfo"]) == 64
    # The signature covers the envelope: any change, or another key, changes it.
    assert SM3Signer("key").sign({**body, "cainfo": ""}) == body["cainfo"]
    assert SM3Signer("key").sign({**body, "sign_no": "S2"}) != body["cainfo"]
    assert SM3Signer("other").sign(body) != body["cainfo"]


def test_sm3_is_the_standard_algorithm() -> None:
    from gmssl import sm3

    # GB/T 32905-2016, example 1.
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3.sm3_hash(list(b"abc")) == expected


def test_an_answer_is_success_only_with_infcode_0() -> None:
    assert read_answer({"infcode": 0, "output": {"a": 1}}) == {"a": 1}
    with pytest.raises(Refused) as refused:
        read_answer({"infcode": "-1", "err_msg": "系统维护中", "output": {}})
    assert refused.value.err_msg == "系统维护中"
    for bad in (None, [], {"output": {}}, {"infcode": "0", "output": []}):
        with pytest.raises(BadAnswer):
            read_answer(bad)


def test_platform_amounts_in_fen() -> None:
    assert rules.fen("12.15", "x") == 1215 and rules.fen(12.1, "x") == 1210
    assert rules.fen(None, "x") == 0
    with pytest.raises(BadAnswer):
        rules.fen("twelve", "x")


@given(
    lines=st.integers(0, 10**7),
    fees=st.integers(0, 1000),
    data=st.data(),
    programme=st.booleans(),
)
def test_the_settled_split_keeps_the_identity(
    lines: int, fees: int, data: st.DataObject, programme: bool
) -> None:
    self_pay = data.draw(st.integers(0, lines))
    fund = data.draw(st.integers(0, lines))
    split = settled_split(
        lines_total=lines, fees=fees, self_pay=self_pay, programme=programme, platform_fund=fund
    )
    assert split.fund == fund
    assert split.fund + split.fiscal + split.patient == lines + fees
    assert min(split.fiscal, split.patient) >= 0
    assert programme or split.fiscal == 0
    if programme:
        assert split.patient <= fees + self_pay  # never more than the programme's share


def test_the_worked_example_settled_by_the_platform() -> None:
    # SPEC §3 worked example, the platform paying 12.15: as expected.
    split = settled_split(lines_total=2270, fees=200, self_pay=500, programme=True,
                          platform_fund=1215)  # fmt: skip
    assert (split.fund, split.fiscal, split.patient) == (1215, 555, 700)
    # Lapsed on the platform: the fund pays nothing, the district the in-scope part.
    lapsed = settled_split(lines_total=2270, fees=200, self_pay=500, programme=True,
                           platform_fund=0)  # fmt: skip
    assert (lapsed.fund, lapsed.fiscal, lapsed.patient) == (0, 1770, 700)
    with pytest.raises(BadAnswer):
        settled_split(lines_total=100, fees=0, self_pay=0, programme=True, platform_fund=101)


def _result(sn: str, **amounts: int) -> FeeResult:
    base = dict(det_item_fee_sumamt=0, pric_uplmt_amt=0, fulamt_ownpay_amt=0, overlmt_amt=0,
                preselfpay_amt=0, inscp_scp_amt=0)  # fmt: skip
    return FeeResult(sn, selfpay_prop="0", chrgitm_lv="01", med_chrgitm_type="09",
                     **{**base, **amounts})  # fmt: skip


def test_why_the_platform_differs() -> None:
    expected = [ExpectedLine("R-1", 420, 420), ExpectedLine("R-2", 350, 315)]
    assert rules.differences(1215, 1215, True, expected, []) == ()
    assert rules.differences(1215, 0, False, expected, []) == ("insurance_lapsed",)
    ceiling = [_result("R-1", overlmt_amt=60, inscp_scp_amt=360), _result("R-2", inscp_scp_amt=315)]
    assert rules.differences(1215, 1173, True, expected, ceiling) == ("price_ceiling",)
    own = [_result("R-1", fulamt_ownpay_amt=420), _result("R-2", inscp_scp_amt=333)]
    assert rules.differences(1215, 900, True, expected, own) == ("self_pay_item", "selfpay_ratio")
    same = [_result("R-1", inscp_scp_amt=420), _result("R-2", inscp_scp_amt=315)]
    assert rules.differences(1215, 1000, True, expected, same) == ("cap_or_fund_ratio",)


@dataclass
class _Line:
    line_no: int
    item_code: str
    item_name: str
    quantity: int
    unit_price: int
    amount: int
    national_code: str | None = None


@dataclass
class _Visit:
    id: int
    month: str
    receipt_number: str
    patient_id_number: str
    visited_at: dt.datetime
    lines_total: int
    insured: bool
    programme: bool
    lines: list[_Line]
    practitioner_code: str | None = None
    diagnosis_list: list[tuple[str, str]] = field(default_factory=list)


def test_a_visit_becomes_one_fee_row_per_line_with_its_own_number() -> None:
    visit = _Visit(1, "2026-10", "HD001-2026-000001", "440114196003070012", AT, 2270, True, True,
                   [_Line(1, "DX001", "一般诊疗费", 1000, 1000, 1000),
                    _Line(2, "AMX01", "阿莫西林胶囊", 12000, 35, 420)])  # fmt: skip
    claim = rules.visit_claim(visit, "doctor", "张医生")
    assert claim.ipt_otp_no == "HD001-2026-000001" and claim.begntime == "2026-10-15 10:00:05"
    assert claim.medfee_sumamt == 1420 and claim.diagnoses == ()
    rows = rules.fee_detail_input(claim, "M1", "P1", "B1")["feedetail"]
    assert [(r["feedetl_sn"], r["medins_list_codg"], r["cnt"], r["pric"], r["det_item_fee_sumamt"])
            for r in rows] == [("HD001-2026-000001-1", "DX001", "1", "10.00", "10.00"),
                               ("HD001-2026-000001-2", "AMX01", "12", "0.35", "4.20")]  # fmt: skip
    assert rules.register_input(claim, "P1", "390")["data"]["ipt_otp_no"] == claim.ipt_otp_no
    assert rules.Claim.from_json(claim.to_json()) == claim


def test_a_failure_is_stored_and_read_back() -> None:
    from app.insurance.rules import Failure, parse_failure

    refused = Failure("refused", "余额不足: 请核对", "2206", "-1")
    assert refused.stored() == "refused 2206 -1: 余额不足: 请核对"
    assert parse_failure(refused.stored()) == refused
    lost = Failure("unknown", "no answer within 1.5 s", reversal=True)
    assert lost.stored() == "reversal unknown: no answer within 1.5 s"
    assert parse_failure(lost.stored()) == lost
    assert parse_failure("") is None
    assert parse_failure("something else: x") == Failure("other", "something else: x")
