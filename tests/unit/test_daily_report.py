"""The daily close sheet's PDF renderer: plain data in, PDF out, sums checked."""

from __future__ import annotations

import pytest

from reports.daily import DailyDocument, DailyMismatch, DailyRow, render_daily


def row(number: str, **kw: object) -> DailyRow:
    base: dict[str, object] = {
        "time": "09:00",
        "receipt_number": number,
        "patient": "张* 4401**********1000",
        "registration": 100,
        "injection_fee": 100,
        "patient_share": 0,
        "cash": 200,
        "total": 1200,
    }
    base.update(kw)
    return DailyRow(**base)  # type: ignore[arg-type]


def test_renders_a_day_with_a_void_and_a_late_entry() -> None:
    doc = DailyDocument(
        "HD001",
        "大涡村卫生站",
        "2026-10-15",
        "2026-10-15 18:00",
        closed="2026-10-15 17:30 doctor",
        rows=[
            row("HD001-2026-000001"),
            row("HD001-2026-000002", voided=True, void_reason="录错<患者>"),
            row("HD001-2026-000003", late=True),
        ],
    )
    pdf = render_daily(doc)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_a_row_whose_cash_is_not_its_kinds_is_refused() -> None:
    doc = DailyDocument("HD001", "大涡村卫生站", "2026-10-15", "x", rows=[row("R1", cash=201)])
    with pytest.raises(DailyMismatch):
        render_daily(doc)
