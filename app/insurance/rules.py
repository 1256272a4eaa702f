"""The national interface's envelope and a visit's claim, and the settled split (SPEC §7, §9).

Pure: no Flask, no SQLAlchemy, no clock, no network.

Guarantees:

* a ``msgid`` is the institution's 12-character ``fixmedins_code``, the local
  time ``yyyyMMddHHmmss`` and a 4-digit sequence: 30 characters
  (:func:`message_id` refuses anything else);
* an answer is read only through :func:`read_answer`: ``infcode`` 0 is success,
  anything else a :class:`Refused` carrying ``err_msg`` — never a silent
  success;
* :func:`settled_split` applies SPEC §7 to the platform's fund ``F``: with
  ``L`` the lines sent and ``P = L − F``, a programme patient pays the fees plus
  ``min(self_pay, P)``, the district ``P − min(self_pay, P)``, a non-programme
  patient ``P``; ``total = patient + fund + fiscal`` always holds, every part
  ≥ 0 (a fund above ``L`` is refused as an impossible answer);
* :func:`visit_claim` is the ONE place a recorded visit becomes the 2201/2203/
  2204 fields, so the national catalogue fields, diagnoses and practitioner
  codes are wired in here alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from app.localtime import local
from app.money import format_quantity, format_yuan, parse_yuan

# Transactions (SPEC §9).  A query can be repeated blindly; a write whose answer
# is lost must be reversed with 2601 before it is tried again.
SIGN_IN = "9001"
PERSON = "1101"
REGISTER = "2201"
UNDO_REGISTER = "2202"
VISIT_INFO = "2203"
FEE_DETAIL = "2204"
UNDO_FEE_DETAIL = "2205"
PRE_SETTLE = "2206"
SETTLE = "2207"
REVERSE_SETTLEMENT = "2208"
REVERSE_UNKNOWN = "2601"
SAFE_TO_REPEAT = frozenset({SIGN_IN, PERSON, PRE_SETTLE})
TRANSACTIONS = {
    SIGN_IN: "sign in",
    PERSON: "person information",
    REGISTER: "register a visit",
    UNDO_REGISTER: "undo registration",
    VISIT_INFO: "visit information",
    FEE_DETAIL: "fee detail",
    UNDO_FEE_DETAIL: "undo fee detail",
    PRE_SETTLE: "pre-settle",
    SETTLE: "settle",
    REVERSE_SETTLEMENT: "reverse a settlement",
    REVERSE_UNKNOWN: "reverse a call whose answer is unknown",
}

MED_TYPE_OUTPATIENT = "11"  # 普通门诊
CERT_ID_CARD = "02"  # 居民身份证
SETTLE_WAY_ORDINARY = "01"  # 按项目结算
INSUTYPES = {"resident": "390", "employee": "310"}


class Refused(Exception):
    """The platform answered, with ``infcode`` ≠ 0 (``infno``: to which transaction)."""

    def __init__(self, infcode: str, err_msg: str, infno: str = "") -> None:
        self.infcode = infcode
        self.err_msg = err_msg
        self.infno = infno
        super().__init__(f"infcode {infcode}: {err_msg}")


class BadAnswer(Exception):
    """The platform's answer is not an envelope this client can read."""


# --- why an attempt stopped -------------------------------------------------------------

# A settlement's ``last_error`` is machine-readable, never shown as is: one of
# these kinds, then (for a refusal) the transaction and the platform's infcode,
# then after ": " the detail — the platform's own ``err_msg`` verbatim for a
# refusal, the technical cause otherwise.  A failure while undoing a voided
# visit's settlement is prefixed "reversal ".  The pages put it in words
# (app.insurance.pages.failure_words) in the user's language.
FAILURE_KINDS = ("refused", "unreachable", "unknown", "bad_answer", "unreversed")


@dataclass(frozen=True)
class Failure:
    kind: str  # FAILURE_KINDS, or "other" for text this module did not write
    detail: str
    infno: str = ""
    infcode: str = ""
    reversal: bool = False

    def stored(self) -> str:
        head = ("reversal " if self.reversal else "") + self.kind
        if self.infno:
            head += f" {self.infno}"
        if self.infcode:
            head += f" {self.infcode}"
        return f"{head}: {self.detail}"[:300]


def parse_failure(text: str) -> Failure | None:
    """:meth:`Failure.stored` read back; ``None`` for no failure, kind ``other`` if unknown."""
    if not text:
        return None
    head, sep, detail = text.partition(": ")
    words = head.split(" ")
    reversal = words[0] == "reversal"
    if reversal:
        words = words[1:]
    if not sep or not words or words[0] not in FAILURE_KINDS or len(words) > 3:
        return Failure("other", text)
    infno = words[1] if len(words) > 1 else ""
    infcode = words[2] if len(words) > 2 else ""
    return Failure(words[0], detail, infno, infcode, reversal)


# --- the envelope --------------------------------------------------------------------


@dataclass(frozen=True)
class Institution:
    """Who is calling: the clinic as the platform knows it, and the deployment's codes."""

    fixmedins_code: str
    fixmedins_name: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    recer_sys_code: str = "YIYUAN"
    infver: str = "V1.0"
    dev_no: str = ""
    dev_safe_info: str = ""


@dataclass(frozen=True)
class Operator:
    opter: str
    opter_name: str
    opter_type: str = "1"  # 1 经办人


def message_id(fixmedins_code: str, at: dt.datetime, sequence: int) -> str:
    """``fixmedins_code`` (12) + local ``yyyyMMddHHmmss`` + ``sequence`` (4 digits): 30 chars."""
    if len(fixmedins_code) != 12:
        raise ValueError(f"fixmedins_code must be 12 characters, not {fixmedins_code!r}")
    if not 0 <= sequence <= 9999:
        raise ValueError("the msgid sequence is 4 digits")
    return f"{fixmedins_code}{local(at):%Y%m%d%H%M%S}{sequence:04d}"


class Signer(Protocol):
    @property
    def signtype(self) -> str: ...

    def sign(self, body: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class NoSigner:
    """A gateway reached over a private line that checks no signature."""

    signtype: str = ""

    def sign(self, body: Mapping[str, Any]) -> str:
        return ""


def canonical(body: Mapping[str, Any]) -> bytes:
    """What is signed: the envelope without ``cainfo``, keys sorted, compact UTF-8 JSON."""
    unsigned = {k: v for k, v in body.items() if k != "cainfo"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class SM3Signer:
    """SM3 (GB/T 32905) over the key and the canonical envelope: ``cainfo`` = hex digest.

    The province issues the key with the institution's access; the digest is
    computed by ``gmssl``, the maintained Python implementation of the SM
    algorithms.
    """

    key: str
    signtype: str = "SM3"

    def sign(self, body: Mapping[str, Any]) -> str:
        from gmssl import sm3

        data = self.key.encode() + canonical(body)
        return str(sm3.sm3_hash(list(data)))


@dataclass(frozen=True)
class HmacSha256Signer:
    """A gateway that takes an HMAC-SHA256 ``cainfo`` (some provinces' test gateways)."""

    key: str
    signtype: str = "HMAC-SHA256"

    def sign(self, body: Mapping[str, Any]) -> str:
        return hmac.new(self.key.encode(), canonical(body), hashlib.sha256).hexdigest()


def signer_from_config(name: str, key: str) -> Signer:
    if name in ("", "none"):
        return NoSigner()
    if name.lower() == "sm3":
        return SM3Signer(key)
    if name.lower() == "hmac-sha256":
        return HmacSha256Signer(key)
    raise ValueError(f"INSURANCE_SIGNER must be none, sm3 or hmac-sha256, not {name!r}")


def envelope(
    infno: str,
    msgid: str,
    at: dt.datetime,
    institution: Institution,
    operator: Operator,
    sign_no: str,
    payload: Mapping[str, Any],
    signer: Signer,
) -> dict[str, Any]:
    """The request envelope of SPEC §9, signed."""
    body: dict[str, Any] = {
        "infno": infno,
        "msgid": msgid,
        "mdtrtarea_admvs": institution.mdtrtarea_admvs,
        "insuplc_admdvs": institution.insuplc_admdvs,
        "recer_sys_code": institution.recer_sys_code,
        "dev_no": institution.dev_no,
        "dev_safe_info": institution.dev_safe_info,
        "cainfo": "",
        "signtype": signer.signtype,
        "infver": institution.infver,
        "opter_type": operator.opter_type,
        "opter": operator.opter,
        "opter_name": operator.opter_name,
        "inf_time": f"{local(at):%Y-%m-%d %H:%M:%S}",
        "fixmedins_code": institution.fixmedins_code,
        "fixmedins_name": institution.fixmedins_name,
        "sign_no": sign_no,
        "input": dict(payload),
    }
    body["cainfo"] = signer.sign(body)
    return body


def read_answer(answer: Any) -> dict[str, Any]:
    """The ``output`` of a successful answer; :class:`Refused` or :class:`BadAnswer` otherwise."""
    if not isinstance(answer, dict) or "infcode" not in answer:
        raise BadAnswer("the answer is not an envelope with an infcode")
    infcode = str(answer["infcode"]).strip()
    if infcode != "0":
        raise Refused(infcode, str(answer.get("err_msg") or "(no err_msg)"))
    output = answer.get("output")
    if output is None or output == "":
        output = {}
    if not isinstance(output, dict):
        raise BadAnswer("output is not an object")
    return output


def fen(value: Any, what: str) -> int:
    """A platform amount (a JSON number or string, yuan) in fen; ``BadAnswer`` if unreadable."""
    if value is None or value == "":
        return 0
    try:
        return parse_yuan(Decimal(str(value)), allow_negative=True)
    except (InvalidOperation, ValueError) as exc:
        raise BadAnswer(f"{what}: {value!r} is not an amount") from exc


def yuan(fen_value: int) -> str:
    return format_yuan(fen_value)


# --- typed answers -------------------------------------------------------------------


@dataclass(frozen=True)
class InsuranceInfo:
    insutype: str
    psn_insu_stas: str  # 1 正常参保, 2 暂停, 4 终止
    psn_insu_date: str
    paus_insu_date: str


@dataclass(frozen=True)
class Person:
    psn_no: str
    psn_name: str
    insurances: tuple[InsuranceInfo, ...]

    def active_insutype(self, day: dt.date) -> str | None:
        """The first insurance in force on ``day`` (状态 1, begun, not paused before it)."""
        for info in self.insurances:
            begun = not info.psn_insu_date or info.psn_insu_date[:10] <= day.isoformat()
            paused = bool(info.paus_insu_date) and info.paus_insu_date[:10] <= day.isoformat()
            if info.psn_insu_stas == "1" and begun and not paused:
                return info.insutype
        return None


def read_person(output: Mapping[str, Any]) -> Person:
    base = output.get("baseinfo") or {}
    if not base.get("psn_no"):
        raise BadAnswer("1101: baseinfo.psn_no missing")
    return Person(
        psn_no=str(base["psn_no"]),
        psn_name=str(base.get("psn_name") or ""),
        insurances=tuple(
            InsuranceInfo(
                insutype=str(i.get("insutype") or ""),
                psn_insu_stas=str(i.get("psn_insu_stas") or ""),
                psn_insu_date=str(i.get("psn_insu_date") or ""),
                paus_insu_date=str(i.get("paus_insu_date") or ""),
            )
            for i in output.get("insuinfo") or []
        ),
    )


@dataclass(frozen=True)
class FeeResult:
    """2204's answer for one line: how the platform classed it."""

    feedetl_sn: str
    det_item_fee_sumamt: int
    selfpay_prop: str
    pric_uplmt_amt: int
    fulamt_ownpay_amt: int
    overlmt_amt: int
    preselfpay_amt: int
    inscp_scp_amt: int
    chrgitm_lv: str
    med_chrgitm_type: str


def read_fee_results(output: Mapping[str, Any]) -> tuple[FeeResult, ...]:
    rows = output.get("result")
    if not isinstance(rows, list):
        raise BadAnswer("2204: result is not a list")
    return tuple(
        FeeResult(
            feedetl_sn=str(r.get("feedetl_sn") or ""),
            det_item_fee_sumamt=fen(r.get("det_item_fee_sumamt"), "det_item_fee_sumamt"),
            selfpay_prop=str(r.get("selfpay_prop") or "0"),
            pric_uplmt_amt=fen(r.get("pric_uplmt_amt"), "pric_uplmt_amt"),
            fulamt_ownpay_amt=fen(r.get("fulamt_ownpay_amt"), "fulamt_ownpay_amt"),
            overlmt_amt=fen(r.get("overlmt_amt"), "overlmt_amt"),
            preselfpay_amt=fen(r.get("preselfpay_amt"), "preselfpay_amt"),
            inscp_scp_amt=fen(r.get("inscp_scp_amt"), "inscp_scp_amt"),
            chrgitm_lv=str(r.get("chrgitm_lv") or ""),
            med_chrgitm_type=str(r.get("med_chrgitm_type") or ""),
        )
        for r in rows
    )


SETLINFO_AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "acct_pay",
    "psn_part_amt",
    "psn_cash_pay",
    "balc",
)


@dataclass(frozen=True)
class SettlementInfo:
    """2206/2207's ``setlinfo``; amounts in fen."""

    setl_id: str
    medins_setl_id: str
    amounts: dict[str, int]

    @property
    def fund_pay_sumamt(self) -> int:
        return self.amounts["fund_pay_sumamt"]


def read_settlement(output: Mapping[str, Any], *, pre: bool = False) -> SettlementInfo:
    info = output.get("setlinfo") or {}
    if not pre and not info.get("setl_id"):
        raise BadAnswer("2207: setlinfo.setl_id missing")
    return SettlementInfo(
        setl_id=str(info.get("setl_id") or ""),
        medins_setl_id=str(info.get("medins_setl_id") or ""),
        amounts={name: fen(info.get(name), name) for name in SETLINFO_AMOUNTS},
    )


# --- a visit's claim -------------------------------------------------------------------


class ClaimLine(Protocol):
    line_no: int
    item_code: str
    item_name: str
    quantity: int  # thousandths
    unit_price: int
    amount: int
    national_code: str | None  # the national catalogue code on the visit's date (SPEC §2.1)


class ClaimVisit(Protocol):
    """What :func:`visit_claim` reads of a recorded visit (app.visits.models.Visit)."""

    id: int
    month: str
    receipt_number: str
    patient_id_number: str
    visited_at: dt.datetime
    lines_total: int
    insured: bool
    programme: bool
    practitioner_code: str | None  # the recording doctor's 医保医师编码

    @property
    def lines(self) -> Iterable[ClaimLine]: ...

    @property
    def diagnosis_list(self) -> list[tuple[str, str]]: ...


@dataclass(frozen=True)
class FeeLine:
    feedetl_sn: str
    med_list_codg: str
    medins_list_codg: str
    name: str
    cnt: str
    pric: int
    det_item_fee_sumamt: int


@dataclass(frozen=True)
class Diagnosis:
    diag_code: str
    diag_name: str
    main: bool


@dataclass(frozen=True)
class Claim:
    """Everything the platform is sent about one visit; stored with its settlement."""

    ipt_otp_no: str  # the clinic's own number: the receipt number
    certno: str
    begntime: str  # local "yyyy-MM-dd HH:mm:ss"
    visit_day: str
    atddr_no: str  # practitioner code
    dr_name: str
    fee_lines: tuple[FeeLine, ...]
    diagnoses: tuple[Diagnosis, ...] = field(default=())

    @property
    def medfee_sumamt(self) -> int:
        return sum(line.det_item_fee_sumamt for line in self.fee_lines)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Claim:
        data = json.loads(text)
        data["fee_lines"] = tuple(FeeLine(**line) for line in data["fee_lines"])
        data["diagnoses"] = tuple(Diagnosis(**d) for d in data.get("diagnoses") or ())
        return cls(**data)


def visit_claim(visit: ClaimVisit, doctor_login: str, doctor_name: str) -> Claim:
    """The 2201/2203/2204 fields of a recorded visit: the one mapping to the platform.

    Each line goes as one 2204 row with the national catalogue code recorded on
    it (``med_list_codg``) beside the clinic's own (``medins_list_codg``); a line
    whose item has no national code yet goes under the clinic's code, which the
    platform refuses or prices as self-pay — so the difference shows.  The
    diagnoses are the visit's, the main one first (2203).  ``atddr_no`` is the
    doctor's practitioner code; the login name only stands in for a doctor
    who has none recorded.
    """
    at = local(visit.visited_at)
    return Claim(
        ipt_otp_no=visit.receipt_number,
        certno=visit.patient_id_number,
        begntime=f"{at:%Y-%m-%d %H:%M:%S}",
        visit_day=at.date().isoformat(),
        atddr_no=visit.practitioner_code or doctor_login,
        dr_name=doctor_name,
        fee_lines=tuple(
            FeeLine(
                feedetl_sn=f"{visit.receipt_number}-{line.line_no}",
                med_list_codg=line.national_code or line.item_code,
                medins_list_codg=line.item_code,
                name=line.item_name,
                cnt=format_quantity(line.quantity),
                pric=line.unit_price,
                det_item_fee_sumamt=line.amount,
            )
            for line in visit.lines
        ),
        diagnoses=tuple(
            Diagnosis(code, name, main=n == 0)
            for n, (code, name) in enumerate(visit.diagnosis_list)
        ),
    )


# --- the requests' inputs -------------------------------------------------------------


def person_input(certno: str) -> dict[str, Any]:
    return {
        "data": {
            "mdtrt_cert_type": CERT_ID_CARD,
            "mdtrt_cert_no": certno,
            "card_sn": "",
            "begntime": "",
            "psn_cert_type": "01",
            "certno": certno,
            "psn_name": "",
        }
    }


def register_input(claim: Claim, psn_no: str, insutype: str) -> dict[str, Any]:
    return {
        "data": {
            "psn_no": psn_no,
            "insutype": insutype,
            "begntime": claim.begntime,
            "mdtrt_cert_type": CERT_ID_CARD,
            "mdtrt_cert_no": claim.certno,
            "ipt_otp_no": claim.ipt_otp_no,
            "atddr_no": claim.atddr_no,
            "dr_name": claim.dr_name,
            "dept_code": "A03",  # 全科医疗科
            "dept_name": "全科",
            "caty": "A03",
        }
    }


def visit_info_input(claim: Claim, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
    return {
        "mdtrtinfo": {
            "mdtrt_id": mdtrt_id,
            "psn_no": psn_no,
            "med_type": MED_TYPE_OUTPATIENT,
            "begntime": claim.begntime,
            "main_cond_dscr": "",
            "dise_codg": next((d.diag_code for d in claim.diagnoses if d.main), ""),
            "dise_name": next((d.diag_name for d in claim.diagnoses if d.main), ""),
        },
        "diseinfo": [
            {
                "diag_type": "1",
                "diag_srt_no": str(n),
                "diag_code": d.diag_code,
                "diag_name": d.diag_name,
                "diag_dept": "全科",
                "dise_dor_no": claim.atddr_no,
                "dise_dor_name": claim.dr_name,
                "diag_time": claim.begntime,
                "vali_flag": "1",
            }
            for n, d in enumerate(claim.diagnoses, start=1)
        ],
    }


def fee_detail_input(claim: Claim, mdtrt_id: str, psn_no: str, chrg_bchno: str) -> dict[str, Any]:
    return {
        "feedetail": [
            {
                "feedetl_sn": line.feedetl_sn,
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": chrg_bchno,
                "med_type": MED_TYPE_OUTPATIENT,
                "fee_ocur_time": claim.begntime,
                "med_list_codg": line.med_list_codg,
                "medins_list_codg": line.medins_list_codg,
                "det_item_fee_sumamt": yuan(line.det_item_fee_sumamt),
                "cnt": line.cnt,
                "pric": yuan(line.pric),
                "bilg_dept_codg": "A03",
                "bilg_dept_name": "全科",
                "bilg_dr_codg": claim.atddr_no,
                "bilg_dr_name": claim.dr_name,
                "hosp_appr_flag": "1",
            }
            for line in claim.fee_lines
        ]
    }


def settle_input(
    claim: Claim, mdtrt_id: str, psn_no: str, insutype: str, chrg_bchno: str
) -> dict[str, Any]:
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": CERT_ID_CARD,
            "mdtrt_cert_no": claim.certno,
            "med_type": MED_TYPE_OUTPATIENT,
            "medfee_sumamt": yuan(claim.medfee_sumamt),
            "psn_setlway": SETTLE_WAY_ORDINARY,
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": chrg_bchno,
            "insutype": insutype,
            "acct_used_flag": "0",
        }
    }


def reverse_settlement_input(setl_id: str, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
    return {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}


def undo_fee_detail_input(mdtrt_id: str, chrg_bchno: str, psn_no: str) -> dict[str, Any]:
    return {"data": {"chrg_bchno": chrg_bchno, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}


def undo_register_input(mdtrt_id: str, ipt_otp_no: str, psn_no: str) -> dict[str, Any]:
    return {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "ipt_otp_no": ipt_otp_no}}


def reverse_unknown_input(psn_no: str, omsgid: str, oinfno: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "omsgid": omsgid, "oinfno": oinfno}}


def sign_in_input(opter_no: str, mac: str = "", ip: str = "") -> dict[str, Any]:
    return {"signIn": {"opter_no": opter_no, "mac": mac, "ip": ip}}


# --- the settled split (SPEC §7) ------------------------------------------------------


@dataclass(frozen=True)
class Split:
    fund: int
    fiscal: int
    patient: int


def settled_split(
    *, lines_total: int, fees: int, self_pay: int, programme: bool, platform_fund: int
) -> Split:
    """The visit's figures with the platform's fund ``F`` (SPEC §7 real-time way)."""
    if not 0 <= platform_fund <= lines_total:
        raise BadAnswer(f"fund_pay_sumamt {platform_fund} outside 0..{lines_total}")
    person = lines_total - platform_fund
    if programme:
        own = min(self_pay, person)
        return Split(fund=platform_fund, fiscal=person - own, patient=fees + own)
    return Split(fund=platform_fund, fiscal=0, patient=fees + person)


# Why the platform's fund differs from the expected one, from its per-line answer.
WHY_LAPSED = "insurance_lapsed"
WHY_CEILING = "price_ceiling"
WHY_SELF_PAY_ITEM = "self_pay_item"
WHY_RATIO = "selfpay_ratio"
WHY_CAP_OR_RATE = "cap_or_fund_ratio"


@dataclass(frozen=True)
class ExpectedLine:
    """What this system expected of a line: its in-scope base and its self-pay ratio."""

    feedetl_sn: str
    amount: int
    fund_base: int


def differences(
    expected_fund: int,
    platform_fund: int,
    insured_on_platform: bool,
    expected: Iterable[ExpectedLine],
    answered: Iterable[FeeResult],
) -> tuple[str, ...]:
    """Why the platform's fund is not the expected one: a closed set of codes, in order."""
    if platform_fund == expected_fund:
        return ()
    if not insured_on_platform:
        return (WHY_LAPSED,)
    why: list[str] = []
    by_sn = {r.feedetl_sn: r for r in answered}
    for line in expected:
        result = by_sn.get(line.feedetl_sn)
        if result is None:
            continue
        if result.overlmt_amt > 0 and WHY_CEILING not in why:
            why.append(WHY_CEILING)
        if result.fulamt_ownpay_amt > 0 and line.fund_base > 0 and WHY_SELF_PAY_ITEM not in why:
            why.append(WHY_SELF_PAY_ITEM)
        covered = result.inscp_scp_amt
        if (
            result.fulamt_ownpay_amt == 0
            and result.overlmt_amt == 0
            and covered != line.fund_base
            and WHY_RATIO not in why
        ):
            why.append(WHY_RATIO)
    return tuple(why) or (WHY_CAP_OR_RATE,)
