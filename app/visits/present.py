"""The JSON shape of a quote and of a recorded visit (SPEC §6), one for both.

Money leaves as two-decimal yuan strings, quantities as decimal strings,
times as ISO-8601 in Asia/Shanghai; names and ID numbers are masked.
"""

from __future__ import annotations

from typing import Any

from app.localtime import local
from app.money import format_quantity, format_yuan
from app.people.rules import mask_id_number, mask_name
from app.visits.models import Visit
from app.visits.operations import Quote


def _totals(
    *,
    total: int,
    in_scope: int,
    self_pay: int,
    fund: int,
    fiscal: int,
    registration: int,
    injection: int,
    copay: int,
    patient: int,
) -> dict[str, Any]:
    y = format_yuan
    return {
        "total": y(total),
        "in_scope": y(in_scope),
        "self_pay": y(self_pay),
        "fund": y(fund),
        "fiscal": y(fiscal),
        "patient": {
            "registration": y(registration),
            "injection": y(injection),
            "copay": y(copay),
            "self_pay": y(self_pay),
            "total": y(patient),
        },
    }


def quote_json(quote: Quote) -> dict[str, Any]:
    split = quote.split
    resident = quote.resident
    return {
        "clinic": quote.clinic.code,
        "visited_at": local(quote.visited_at).isoformat(),
        "patient": {
            "id_number": mask_id_number(quote.id_number),
            "name": mask_name(resident.name) if resident else None,
            "hukou_village": quote.hukou_village.name if quote.hukou_village else None,
            "insurance_type": resident.insurance_type if resident else None,
        },
        "programme": split.programme,
        "eligibility": {
            "programme": split.programme,
            "insured": split.insured,
            "reasons": [str(r) for r in quote.eligibility.reasons],
        },
        "injection": quote.injection,
        "lines": [
            {
                "item": item.code,
                "name": item.name,
                "kind": item.kind,
                "unit": item.unit,
                "insurance_class": item.insurance_class,
                "quantity": format_quantity(line.quantity),
                "unit_price": format_yuan(line.unit_price),
                "amount": format_yuan(line.amount),
                "in_scope": format_yuan(line.in_scope),
                "self_pay": format_yuan(line.self_pay),
            }
            for line, item in zip(split.lines, quote.items, strict=True)
        ],
        "totals": _totals(
            total=split.total,
            in_scope=split.in_scope,
            self_pay=split.self_pay,
            fund=split.fund,
            fiscal=split.fiscal,
            registration=split.registration,
            injection=split.injection,
            copay=split.copay,
            patient=split.patient,
        ),
        "fund_year": {
            "paid_before": format_yuan(quote.usage.fund_paid),
            "cap_left_after": (
                format_yuan(quote.policy_version.fund_annual_cap - split.usage_after.fund_paid)
                if quote.policy_version and split.insured
                else None
            ),
        },
    }


def visit_json(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.id,
        "receipt_number": visit.receipt_number,
        "clinic": visit.clinic.code,
        "visited_at": local(visit.visited_at).isoformat(),
        "patient": {"id_number": mask_id_number(visit.patient_id_number)},
        "programme": visit.programme,
        "eligibility": {
            "programme": visit.programme,
            "insured": visit.insured,
            "reasons": visit.reason_codes,
        },
        "injection": visit.injection,
        "lines": [
            {
                "item": line.item_code,
                "name": line.item_name,
                "kind": line.kind,
                "unit": line.unit,
                "insurance_class": line.insurance_class,
                "quantity": format_quantity(line.quantity),
                "unit_price": format_yuan(line.unit_price),
                "amount": format_yuan(line.amount),
                "in_scope": format_yuan(line.in_scope),
                "self_pay": format_yuan(line.self_pay),
            }
            for line in visit.lines
        ],
        "totals": _totals(
            total=visit.total,
            in_scope=visit.in_scope,
            self_pay=visit.self_pay,
            fund=visit.fund,
            fiscal=visit.fiscal,
            registration=visit.registration,
            injection=visit.injection_fee,
            copay=visit.copay,
            patient=visit.patient,
        ),
        "voided": visit.voided,
        "void": (
            {"reason": visit.void_reason, "at": local(visit.voided_at).isoformat()}
            if visit.voided_at
            else None
        ),
    }
