"""A visit's settlement with the platform, as the API answers it (yuan strings)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from app.money import format_yuan


class SettledFiguresSchema(Schema):
    fund = fields.String(metadata={"example": "12.15"})
    fiscal = fields.String(metadata={"example": "5.55"})
    patient = fields.String(metadata={"example": "7.00"})


class SettlementOutSchema(Schema):
    """The visit's settlement: ``pending`` (医保待结算), ``settled``, ``failed`` or ``reversed``."""

    status = fields.String(metadata={"enum": ["pending", "settled", "failed", "reversed"]})
    mdtrt_id = fields.String(allow_none=True, metadata={"description": "the platform's visit id"})
    setl_id = fields.String(allow_none=True, metadata={"description": "the settlement id"})
    psn_no = fields.String(allow_none=True)
    settled = fields.Nested(
        SettledFiguresSchema,
        allow_none=True,
        metadata={"description": "the platform's figures (SPEC §7); null until settled"},
    )
    expected = fields.Nested(SettledFiguresSchema, metadata={"description": "the visit's own"})
    pre_fund = fields.String(
        allow_none=True,
        metadata={"description": "the fund of the platform's pre-settlement (2206)"},
    )
    why = fields.List(
        fields.String(),
        metadata={"description": "why the platform's fund differs from the expected one"},
    )
    reason = fields.String(metadata={"description": "why it is not settled yet"})


def settlement_answer(row: Any) -> dict[str, Any] | None:
    """``SettlementOutSchema``'s answer for a settlement row (``None``: not claimed)."""
    if row is None:
        return None
    settled = None
    if row.status == "settled":
        settled = {
            "fund": format_yuan(row.fund),
            "fiscal": format_yuan(row.fiscal),
            "patient": format_yuan(row.patient),
        }
    return {
        "status": row.status,
        "mdtrt_id": row.mdtrt_id,
        "setl_id": row.setl_id,
        "psn_no": row.psn_no,
        "settled": settled,
        "expected": {
            "fund": format_yuan(row.expected_fund),
            "fiscal": format_yuan(row.expected_fiscal),
            "patient": format_yuan(row.expected_patient),
        },
        "pre_fund": None if row.pre_fund is None else format_yuan(row.pre_fund),
        "why": row.why_codes,
        "reason": row.last_error,
    }
