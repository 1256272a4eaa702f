"""The patient's receipt for a recorded visit: a :class:`ReceiptDocument` and its PDF.

Guarantees: every figure on the receipt is the visit's own stored figure (the
receipt never re-prices); the patient's name and ID number are masked
(:func:`mask_name`, :func:`mask_id_number`); the time is Asia/Shanghai; the
reasons a visit is not a programme visit are in the reader's words (the
printed receipt is rendered under the Chinese locale).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.insurance.models import InsuranceSettlement
from app.insurance.queries import settlement_for_visit
from app.localtime import format_local
from app.money import format_quantity
from app.people.models import Resident
from app.people.rules import mask_id_number, mask_name
from app.visits.models import Visit
from reports.data import ReceiptDocument, ReceiptLine

# Why a visit is not a programme visit (app.visits.rules.Reason), in words.
REASON_WORDS = {
    "no_policy": _l("The one-yuan programme is not in force in this district on this day"),
    "unknown_resident": _l("Not in the district's resident register"),
    "other_district": _l("Household registration is in another district"),
    "not_village_hukou": _l("Household registration is in an urban community, not a village"),
    "clinic_not_in_programme": _l("This clinic is not in the programme on this day"),
    "not_insured": _l("No active medical insurance on this day"),
    "deceased": _l("The register records this person as deceased by this day"),
}


def reason_words(codes: list[str]) -> list[str]:
    return [str(REASON_WORDS[code]) if code in REASON_WORDS else code for code in codes]


def masked_patient_name(visit: Visit) -> str:
    """The masked name of the visit's patient; a stand-in when not in the register."""
    if visit.resident_id is None:
        return _("(not registered)")
    resident = db.session.get(Resident, visit.resident_id)
    return mask_name(resident.name) if resident else _("(not registered)")


def insurance_note(settlement: InsuranceSettlement | None) -> str:
    """What the receipt says of the visit's settlement with the platform."""
    if settlement is None:
        return ""
    if settlement.status == "settled":
        return _("Settled with the medical-insurance platform (settlement %(setl_id)s).",
                 setl_id=settlement.setl_id or "")  # fmt: skip
    if settlement.status in ("pending", "failed"):
        return _("Pending insurance settlement (医保待结算): the fund's share shown is expected; "
                 "the platform settles it later. What you pay does not change.")  # fmt: skip
    return _("The insurance settlement of this visit is reversed.")


def percent(ratio: int | None) -> str | None:
    """A ratio stored in ten-thousandths as a percentage: 500 → ``5%``, 1250 → ``12.5%``."""
    if ratio is None:
        return None
    whole, hundredths = divmod(ratio, 100)
    return f"{whole}%" if not hundredths else f"{whole}.{hundredths:02d}".rstrip("0") + "%"


def receipt_document(visit: Visit, check_code: str = "", check_url: str = "") -> ReceiptDocument:
    """The receipt of ``visit`` as plain data, for the HTML page and the PDF alike.

    With a settlement from the platform, the fund and backstop printed are the
    platform's (SPEC §7); pending, the expected ones, and the receipt says so.
    """
    settlement = settlement_for_visit(visit.id)
    fund, fiscal, patient = visit.fund, visit.fiscal, visit.patient
    if settlement is not None and settlement.status == "settled":
        fund, fiscal = settlement.fund or 0, settlement.fiscal or 0
        patient = settlement.patient or 0
    return ReceiptDocument(
        receipt_number=visit.receipt_number,
        clinic_code=visit.clinic.code,
        clinic_name=visit.clinic.name,
        visited_at=format_local(visit.visited_at),
        patient_name=masked_patient_name(visit),
        patient_id_number=mask_id_number(visit.patient_id_number),
        programme=visit.programme,
        injection=visit.injection,
        lines=tuple(
            ReceiptLine(
                name=line.item_name,
                unit=line.unit,
                insurance_class=line.insurance_class,
                quantity=format_quantity(line.quantity),
                unit_price=line.unit_price,
                amount=line.amount,
                kind=line.kind,
                price_ceiling=line.price_ceiling,
                over_ceiling=line.over_ceiling,
                selfpay_percent=percent(line.selfpay_ratio),
            )
            for line in visit.lines
        ),
        total=visit.total,
        fund=fund,
        fiscal=fiscal,
        registration=visit.registration,
        injection_fee=visit.injection_fee,
        copay=visit.copay,
        self_pay=visit.self_pay,
        patient=patient,
        voided=visit.voided,
        eligibility_notes=tuple(reason_words(visit.reason_codes)),
        diagnoses=tuple(f"{code} {name}".strip() for code, name in visit.diagnosis_list),
        check_code=check_code,
        check_url=check_url,
        insurance_note=insurance_note(settlement),
    )


def receipt_pdf(visit: Visit, check_code: str = "", check_url: str = "") -> bytes:
    """The receipt as PDF bytes (call under the Chinese locale: the print is Chinese)."""
    from reports.receipt import render_receipt

    return render_receipt(receipt_document(visit, check_code, check_url))
