"""The statement life cycle as a table, the payment check, and the finance chart."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.auth.access import require_role
from app.errors import Conflict, Forbidden, InvalidInput, ProblemCode
from app.settlement.chart import Bar, bar_chart, column_chart, tick_step
from app.settlement.rules import (
    TRANSITIONS,
    Action,
    Payment,
    Status,
    allowed_actions,
    check_payment,
    clean_reason,
    compare_figures,
    first_day_after,
    next_status,
    require_month_ended,
    role_for,
)

LEGAL = {
    (Action.SUBMIT, Status.OPEN): Status.SUBMITTED,
    (Action.REVIEW, Status.SUBMITTED): Status.REVIEWED,
    (Action.RETURN, Status.SUBMITTED): Status.OPEN,
    (Action.RETURN, Status.REVIEWED): Status.OPEN,
    (Action.PAY, Status.REVIEWED): Status.PAID,
    (Action.PULL_BACK, Status.SUBMITTED): Status.OPEN,
}


@pytest.mark.parametrize(("action", "status"), list(itertools.product(Action, Status)))
def test_transition_table(action: Action, status: Status) -> None:
    if (action, status) in LEGAL:
        assert next_status(action, status) is LEGAL[(action, status)]
    else:
        with pytest.raises(Conflict) as refused:
            next_status(action, status)
        assert refused.value.field == "status"
        assert f"the statement is {status.value}" in refused.value.message


def test_each_action_belongs_to_one_role() -> None:
    assert {a: t.role for a, t in TRANSITIONS.items()} == {
        Action.SUBMIT: "doctor",
        Action.REVIEW: "reviewer",
        Action.RETURN: "reviewer",
        Action.PAY: "finance",
        Action.PULL_BACK: "doctor",
    }
    assert role_for(Action.PAY) == "finance"
    require_role(SimpleNamespace(role="finance"), role_for(Action.PAY))
    for role in ("doctor", "reviewer", "admin"):
        with pytest.raises(Forbidden) as refused:
            require_role(SimpleNamespace(role=role), role_for(Action.PAY), doing="pay a statement")
        assert refused.value.message == "only a finance may pay a statement"
    assert allowed_actions("submitted", "reviewer") == [Action.REVIEW, Action.RETURN]
    assert allowed_actions("open", "doctor") == [Action.SUBMIT]
    assert allowed_actions("paid", "finance") == []
    assert allowed_actions("reviewed", "admin") == []


def test_a_return_needs_a_reason() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_reason(Action.RETURN, "   ")
    assert refused.value.field == "reason"
    assert clean_reason(Action.RETURN, " 漏记 ") == "漏记"
    assert clean_reason(Action.REVIEW, None) == ""
    with pytest.raises(InvalidInput):
        clean_reason(Action.REVIEW, "x" * 301)


def test_a_month_is_submitted_only_after_it_ends() -> None:
    assert first_day_after("2026-12") == dt.date(2027, 1, 1)
    require_month_ended("2026-09", dt.date(2026, 10, 1))
    with pytest.raises(Conflict) as refused:
        require_month_ended("2026-10", dt.date(2026, 10, 31))
    assert refused.value.field == "month" and "2026-11-01" in refused.value.message


def test_payment_checks() -> None:
    today = dt.date(2026, 10, 15)
    ok = Payment(dt.date(2026, 10, 14), "REF-1", 1110)
    assert check_payment(ok, 1110, today, "2026-09") == []
    fields = {p.field for p in check_payment(Payment(today, "", 1111), 1110, today, "2026-09")}
    assert fields == {"amount", "reference"}
    late = check_payment(Payment(dt.date(2026, 10, 16), "R", 1110), 1110, today, "2026-09")
    assert [p.code for p in late] == [ProblemCode.PAID_IN_FUTURE]
    early = check_payment(Payment(dt.date(2026, 9, 30), "R", 1110), 1110, today, "2026-09")
    assert [p.code for p in early] == ["before_month_end"]
    [mismatch] = check_payment(Payment(today, "R", 5), 1110, today, "2026-09")
    assert mismatch.field == "amount" and "11.10" in mismatch.message


def test_compare_figures_names_every_difference() -> None:
    assert compare_figures({"visits": 2, "fiscal": 5}, {"visits": 2, "fiscal": 5}) == []
    problems = compare_figures({"visits": 2, "fiscal": 5}, {"visits": 3, "fiscal": 5})
    assert [p.field for p in problems] == ["visits"]


@given(st.integers(0, 10**11))
def test_tick_step_is_a_whole_yuan_1_2_5_step(largest: int) -> None:
    step = tick_step(largest)
    assert step % 100 == 0
    assert str(step // 100).strip("0") in ("1", "2", "5")
    assert step * 4 * 5 >= largest or step * 4 >= largest


def test_charts_are_escaped_svg() -> None:
    svg = str(bar_chart([Bar("<script>", 1234, 2000)], "a & b"))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "¥12.34" in svg and "a &amp; b" in svg
    months = str(column_chart([Bar("26-09", 0), Bar("26-10", 99_999)], "paid"))
    assert months.count("<rect") == 2
    assert str(column_chart([], "empty")).endswith("</svg>")
