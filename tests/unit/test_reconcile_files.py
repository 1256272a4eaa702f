"""The settlement file's fast row loader agrees with the schema wherever it answers."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from marshmallow import ValidationError

from app.reconcile.files import FileProblem, ProblemLog, _fast_load
from app.reconcile.schemas import COLUMNS, OPTIONAL_COLUMNS, SettlementRowSchema

BASE = {
    "fixmedins_code": "H001",
    "setl_id": "S1",
    "mdtrt_id": "HD001-2026-000001",
    "certno": "440114199001010018",
    "setl_time": "2026-10-15 09:30:00",
    "medfee_sumamt": "30.50",
    "inscp_scp_amt": "30.5",
    "act_pay_dedc": "0",
    "hifp_pay": "20.00",
    "fund_pay_sumamt": "20.00",
    "psn_cash_pay": "10.50",
}
VARIANTS: dict[str, list[Any]] = {
    "setl_time": ["2026-10-15 09:30:00", "2026-10-15 9:30:00", "2026-02-30 09:30:00",
                  "1999-12-31 23:59:59", "2100-01-01 08:00:00", "2100-01-01 08:00:01",
                  "2026-10-15", "2026-10-15T09:30:00", " 2026-10-15 09:30:00",
                  dt.datetime(2026, 10, 15, 9, 30), "x"],
    "medfee_sumamt": ["30.50", "-0.00", "-0", "007.5", "1.234", "1e3", "+1.00", "12.",
                      ".5", "", "１２", 12, "99999999999999999.99"],
    "certno": ["440114199001010018", "", "x" * 31, "44011419900101001\x00"],
    "refd_setl_flag": ["", "null", "0", "1", "2", "NULL", "Null"],
    "maf_pay": ["", "null", "1.20", "1.234", "abc", "-3"],
    "med_type": ["", "11", "1234567", "null", "a\tb"],
}  # fmt: skip


def _schema(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return SettlementRowSchema().load(
            {k: v for k, v in record.items() if k in COLUMNS}
            | {
                k: v
                for k, v in record.items()
                if k in OPTIONAL_COLUMNS and v not in ("", "null", "NULL")
            }
        )
    except ValidationError:
        return None


def test_the_fast_loader_gives_what_the_schema_gives_or_leaves_it_to_the_schema() -> None:
    optional = tuple(n for n in OPTIONAL_COLUMNS if n in VARIANTS)
    answered = 0
    names = list(VARIANTS)
    for values in itertools.product(*(VARIANTS[n] for n in names)):
        record = BASE | dict(zip(names, values, strict=True))
        fast = _fast_load(record, optional)
        if fast is None:
            continue
        answered += 1
        assert fast == _schema(record), record
    assert answered > 100  # the common shapes do take the fast path


def test_a_problem_log_keeps_the_first_of_each_field_and_counts_all() -> None:
    log = ProblemLog(per_field=3)
    for line in range(100, 1, -1):  # found out of order: the lowest lines are kept
        log.add(FileProblem(line, "a", "bad"))
        if line % 10 == 0:
            log.add(FileProblem(line, "b", "worse"))
    assert [(p.line, p.field) for p in log.listed()] == [
        (2, "a"), (3, "a"), (4, "a"), (10, "b"), (20, "b"), (30, "b")
    ]  # fmt: skip
    assert log.counts == {"a": 99, "b": 10} and log.omitted() == {"a": 96, "b": 7}
    rejected = log.rejected("f.csv")
    assert rejected.total == 109
    assert rejected.lines()[-2:] == [
        "f.csv: a: 96 more problems not listed (99 in all)",
        "f.csv: b: 7 more problems not listed (10 in all)",
    ]
