"""Daily reconciliation with the platform (SPEC §9: 3201, 3202 with 9101/9102): the pure part.

Per clinic, day and insurance type the clinic's totals are sent with 3201;
where the platform's differ, the detail file goes up (9101), 3202 checks it
and the result file comes back (9102), one row per settlement with its
``stmt_rslt``.  This module builds and reads those files.

Guarantees (pure: no Flask, no SQLAlchemy, no clock):

* the detail file is the platform's format: UTF-8, tab-separated, ``null`` for
  an empty value, zipped; one row per settlement (``setl_id, mdtrt_id, psn_no,
  medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag``), a refund as two
  rows, the original (flagged ``1``) and its negative;
* :func:`totals` of those rows are what 3201 sends: the sums, and the number
  of settlements (negative rows are not settlements);
* every result row that is not ``0`` becomes a :class:`Difference` of one of
  four kinds; an unreadable result file raises ``ValueError`` naming the line.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.money import format_yuan, parse_yuan

DETAIL_COLUMNS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "refd_setl_flag",
)
RESULT_COLUMNS = (
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "msgid",
    "stmt_rslt",
    "refd_setl_flag",
    "memo",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
)


class Kind(StrEnum):
    CLINIC_ONLY = "clinic_only"  # we have it, the platform does not
    PLATFORM_ONLY = "platform_only"  # the platform has it, we do not (a desk refund …)
    AMOUNT = "amount"  # both have it, the amounts differ
    REFUND_FLAG = "refund_flag"  # both have it, the refund flag differs


# The simulator's and this system's reading of stmt_rslt (the province's may add codes).
RESULT_KINDS = {
    "1": Kind.CLINIC_ONLY,
    "2": Kind.PLATFORM_ONLY,
    "3": Kind.AMOUNT,
    "4": Kind.REFUND_FLAG,
}

STATUSES = ("pending", "checked", "resolved")  # 待处理 / 已核对 / 已平账


@dataclass(frozen=True)
class DetailRow:
    setl_id: str
    mdtrt_id: str
    psn_no: str
    medfee: int
    fund: int
    acct: int
    refunded: bool

    @property
    def negative(self) -> bool:
        return self.medfee < 0


def rows_of_settlement(
    setl_id: str, mdtrt_id: str, psn_no: str, medfee: int, fund: int, reversed_: bool
) -> list[DetailRow]:
    """One settlement's rows: itself, and when reversed its negative too (both flagged)."""
    row = DetailRow(setl_id, mdtrt_id, psn_no, medfee, fund, 0, reversed_)
    if not reversed_:
        return [row]
    return [row, DetailRow(setl_id, mdtrt_id, psn_no, -medfee, -fund, 0, True)]


def totals(rows: Iterable[DetailRow]) -> tuple[int, int, int, int]:
    """``(medfee, fund, acct, settlements)`` as 3201 sends them."""
    medfee = fund = acct = count = 0
    for r in rows:
        medfee += r.medfee
        fund += r.fund
        acct += r.acct
        count += not r.negative
    return medfee, fund, acct, count


def _cell(value: str) -> str:
    return value if value else "null"


def detail_file(rows: Iterable[DetailRow], name: str = "detail.txt") -> bytes:
    """The zipped, tab-separated UTF-8 detail file of ``rows``."""
    lines = [
        "\t".join(
            (
                _cell(r.setl_id),
                _cell(r.mdtrt_id),
                _cell(r.psn_no),
                format_yuan(r.medfee),
                format_yuan(r.fund),
                format_yuan(r.acct),
                "1" if r.refunded else "0",
            )
        )
        for r in rows
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, "\n".join(lines) + "\n")
    return out.getvalue()


@dataclass(frozen=True)
class Difference:
    kind: Kind
    setl_id: str
    mdtrt_id: str
    psn_no: str
    negative: bool
    refd_setl_flag: str
    memo: str
    medfee: int
    fund: int


def read_result(data: bytes) -> list[Difference]:
    """Every row of the 9102 result file that is not ``0`` (agreed)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = ["" if c == "null" else c for c in line.split("\t")]
        if len(cells) != len(RESULT_COLUMNS):
            raise ValueError(f"result line {number}: {len(cells)} columns, not 10")
        row = dict(zip(RESULT_COLUMNS, cells, strict=True))
        if row["stmt_rslt"] == "0":
            continue
        kind = RESULT_KINDS.get(row["stmt_rslt"])
        if kind is None:
            raise ValueError(f"result line {number}: unknown stmt_rslt {row['stmt_rslt']!r}")
        medfee = parse_yuan(row["medfee_sumamt"], allow_negative=True)
        out.append(
            Difference(
                kind,
                row["setl_id"],
                row["mdtrt_id"],
                row["psn_no"],
                medfee < 0,
                row["refd_setl_flag"],
                row["memo"][:100],
                medfee,
                parse_yuan(row["fund_pay_sumamt"], allow_negative=True),
            )
        )
    return out
