"""Marshmallow schemas of the visit API (SPEC §6).

Request schemas check *shape* only — types, required keys, no unknown keys
(``unknown=RAISE``) — and hand the operations plain values.  What the values
*mean* (a valid ID number, a known item, a positive quantity, an open month)
is checked by :mod:`app.visits.rules` and :mod:`app.visits.operations`, which
raise domain errors naming the field.

Response schemas dump the domain objects themselves (a :class:`Visit` row, a
:class:`Quote`, a :class:`PatientEligibility`): money through
:class:`app.fields.Yuan`, quantities through :class:`app.fields.Quantity`, names
and ID numbers masked by the field, times in Asia/Shanghai.  They are the only
way these objects leave as JSON (API and terminal page alike), and what the
OpenAPI document shows; a test checks real answers against that document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, post_load, pre_load, validate

from app.checks.rules import Rule
from app.checks.screening import describe, stored_check
from app.fields import Quantity, StrictBoolean, StrictSchema, Text, Yuan
from app.insurance.schemas import SettlementOutSchema
from app.localtime import local
from app.money import format_quantity, format_yuan
from app.people.rules import mask_id_number, mask_name
from app.policy.models import RATIO_SCALE
from app.visits.labels import INSURANCE_CLASS, KIND
from app.visits.models import Visit
from app.visits.operations import LineRequest, OfflineCapture, Quote, VisitRequest
from app.visits.queries import PatientEligibility

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000
PAGINATION_ARGS = ("page", "page_size")

# Query dates outside these are typos (and the extremes overflow time-zone arithmetic).
DATES = validate.Range(
    min=dt.date(2000, 1, 1), max=dt.date(2099, 12, 31), error="must be between {min} and {max}"
)

# --- request shapes -------------------------------------------------------------


class QuantityText(Quantity):
    """:class:`Quantity`'s shape checks (a string or a JSON integer, not too long), loaded as text.

    The operation parses the text together with the other lines, so one answer
    names every problem of a visit at once (an unknown item *and* a zero quantity).
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:  # type: ignore[override]  # text, by design
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        text = str(value)
        if len(text) > 20:
            raise self.make_error("too_long")
        return text


class LineInSchema(StrictSchema):
    item = Text(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "Catalogue item code", "example": "AMX01"},
    )
    quantity = QuantityText(
        required=True,
        metadata={
            "description": (
                "Positive, at most three decimals. A string, or a JSON integer; "
                "a JSON number with decimals is refused (it is not exact)."
            ),
        },
    )
    trace_codes = fields.List(
        Text(
            validate=validate.Regexp(
                r"^[0-9A-Za-z]{20,40}$", error="must be 20 to 40 letters or digits"
            )
        ),
        load_default=list,
        validate=validate.Length(max=200, error="at most 200 codes on a line"),
        metadata={
            "description": (
                "Optional: the drug traceability code (药品追溯码) of each pack dispensed on "
                "this line, one per pack, each at most once per visit (else 422 "
                "`trace_code_repeated`). A code already dispensed on another visit is "
                "recorded and flagged on the clinic's stock statement."
            )
        },
    )


class OfflineInSchema(StrictSchema):
    """A visit captured at a terminal that could not reach the server (issue 25)."""

    captured_at = fields.AwareDateTime(
        format="iso",
        required=True,
        metadata={
            "description": (
                "When the doctor saved the visit at the terminal (ISO-8601 with an offset): "
                "not in the future, not before the visit time, not in a submitted month. "
                "The late-entry check measures from it, not from the upload."
            )
        },
    )
    code = Text(
        required=True,
        validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[A-Za-z0-9-]+$")],
        metadata={"description": "The code on the provisional slip", "example": "L261015-K3QF-07"},
    )
    expected_patient = Yuan(
        load_default=None,
        allow_none=True,
        metadata={
            "description": (
                "What the slip told the patient to pay: a visit the server prices "
                "differently is refused with 409 `patient_differs`"
            )
        },
    )
    expected_programme = StrictBoolean(
        load_default=None,
        allow_none=True,
        metadata={
            "description": (
                "Whether the slip treated the visit as a programme visit: 409 "
                "`programme_differs` when the register says otherwise"
            )
        },
    )

    @post_load
    def make_capture(self, data: dict[str, Any], **_: Any) -> OfflineCapture:
        return OfflineCapture(
            captured_at=data["captured_at"],
            code=data["code"],
            expected_patient=data["expected_patient"],
            expected_programme=data["expected_programme"],
        )


class VisitInSchema(StrictSchema):
    """The body of ``POST /visits`` and ``POST /visits/quote``."""

    clinic = Text(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Clinic code", "example": "HD001"},
    )
    patient_id_number = Text(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "18-character citizen ID number (GB 11643)"},
    )
    visited_at = fields.AwareDateTime(
        format="iso",
        load_default=None,
        allow_none=True,
        metadata={
            "description": (
                "ISO-8601 with a UTC offset, e.g. 2026-10-15T09:30:00+08:00; "
                "defaults to now. A time without an offset is refused."
            )
        },
    )
    injection = StrictBoolean(
        load_default=False, metadata={"description": "true or false; default false"}
    )
    lines = fields.List(fields.Nested(LineInSchema), required=True)
    diagnoses = fields.List(
        Text(validate=validate.Length(min=1, max=20)),
        load_default=list,
        validate=validate.Length(max=20, error="is longer than {max} codes"),
        metadata={
            "description": (
                "Diagnosis codes of the national lists (e.g. J06.900), the main one first, "
                "at most 5, each valid on the visit date; required when the district's "
                "policy says require_diagnosis."
            ),
            "example": ["J06.900", "I10.x00"],
        },
    )
    warning_reason = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={
            "description": (
                "The doctor's reason for recording a visit the checks at recording warn "
                "about (at most 200 characters). Without it such a visit is refused with "
                "422 `warning_reason_required`, listing the warnings; with it the visit "
                "is saved and each warning stored with the reason. A check set to block "
                "refuses the visit (422 `check_<rule>`) whatever the reason."
            )
        },
    )

    offline = fields.Nested(
        OfflineInSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Only for a visit captured while the server was unreachable"},
    )

    @post_load
    def make_request(self, data: dict[str, Any], **_: Any) -> VisitRequest:
        return VisitRequest(
            clinic=data["clinic"],
            patient_id_number=data["patient_id_number"],
            injection=data["injection"],
            lines=tuple(
                LineRequest(line["item"], line["quantity"], tuple(line["trace_codes"]))
                for line in data["lines"]
            ),
            visited_at=data["visited_at"],
            warning_reason=data["warning_reason"],
            offline=data["offline"],
            diagnoses=tuple(data["diagnoses"]),
        )


class IdempotencyHeaderSchema(Schema):
    # Other headers are ignored (a request carries many); only this one is read.
    idempotency_key = Text(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": (
                "Required (428 without it). Any client-chosen string (1–100 characters), "
                "one per intended visit. "
                "A retry with the same key and body returns the first visit; the same "
                "key with a different body is a 409."
            )
        },
    )


class VoidInSchema(StrictSchema):
    reason = Text(
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": "Why the visit is voided (required, at most 200 characters)"},
    )


class VisitListArgsSchema(StrictSchema):
    clinic = Text(
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "Clinic code; required except for a doctor (defaults to his clinic)"
        },
    )
    date_from = fields.Date(
        validate=DATES, metadata={"description": "First day, Asia/Shanghai, inclusive"}
    )
    date_to = fields.Date(
        validate=DATES, metadata={"description": "Last day, Asia/Shanghai, inclusive"}
    )

    @pre_load
    def leave_pagination(self, data: Any, **_: Any) -> Any:
        # ``page`` and ``page_size`` are read (and documented) by ``@blp.paginate``.
        return {k: v for k, v in data.items() if k not in PAGINATION_ARGS}

    @post_load
    def check_range(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ValidationError("must not be before date_from", "date_to")
        return data


class EligibilityArgsSchema(StrictSchema):
    """The body of ``POST /residents/eligibility``: the ID number never travels in a URL."""

    id_number = Text(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "18-character citizen ID number (GB 11643)"},
    )
    clinic = Text(
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "Clinic code; required except for a doctor (defaults to his clinic)"
        },
    )
    date = fields.Date(
        validate=DATES,
        metadata={"description": "Visit date; defaults to today in Asia/Shanghai"},
    )


# --- response shapes --------------------------------------------------------------
#
# Each dumps a domain object as it is (a Visit row, a Quote, a PatientEligibility);
# money through Yuan, quantities through Quantity, names and ID numbers masked
# by the field itself, times in Asia/Shanghai.


class MaskedIdNumber(fields.String):
    """An ID number shown as ``4401**********1234``: never the whole number."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"description": "masked"}, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else mask_id_number(value)


class MaskedName(fields.String):
    """A name shown as ``张*``: never the whole name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"description": "masked"}, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else mask_name(value)


class LocalTime(fields.DateTime):
    """An aware time shown in Asia/Shanghai, ISO-8601 with its offset."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else local(value).isoformat()


class Whole(fields.Nested):
    """The object itself shown as a nested part (a visit's totals are columns of the visit).

    ``when`` decides whether the part exists for this object (``null`` if not).
    """

    def __init__(self, nested: Any, *, when: Callable[[Any], bool] | None = None, **kw: Any):
        super().__init__(nested, allow_none=when is not None, **kw)
        self.when = when

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = missing) -> Any:
        if self.when is not None and not self.when(obj):
            return None
        return obj


class PatientTotalsSchema(Schema):
    """What the patient pays, of a recorded visit."""

    registration = Yuan(metadata={"description": "registration fee (programme visits)"})
    injection = Yuan(
        attribute="injection_fee",
        metadata={"description": "injection fee (programme visits with an injection)"},
    )
    copay = Yuan(metadata={"description": "in-scope amount the fund did not pay"})
    self_pay = Yuan(metadata={"description": "service items, class C, un-backstopped class B"})
    total = Yuan(attribute="patient", metadata={"description": "what the patient pays"})


class QuotePatientTotalsSchema(PatientTotalsSchema):
    """The same, of a quote (the split names the injection fee ``injection``)."""

    injection = Yuan(metadata={"description": "injection fee (programme visits)"})


class TotalsSchema(Schema):
    total = Yuan(metadata={"description": "lines + registration + injection"})
    in_scope = Yuan()
    self_pay = Yuan()
    fund = Yuan(metadata={"description": "medical insurance fund"})
    fiscal = Yuan(metadata={"description": "district treasury backstop"})
    patient = Whole(PatientTotalsSchema)


class QuoteTotalsSchema(TotalsSchema):
    patient = Whole(QuotePatientTotalsSchema)


def stored_ratio(value: int | None) -> Decimal | None:
    """A ratio stored in ten-thousandths as the ``Decimal`` it is."""
    return None if value is None else Decimal(value) / RATIO_SCALE


def format_ratio(value: Decimal) -> str:
    """``0.05``, ``0.10``, ``0.125``: at least two decimals, at most four."""
    text = f"{value:.4f}"
    return text[:-2] + text[-2:].rstrip("0") if text.endswith("0") else text


class RatioText(fields.Field):
    """A ratio (``Decimal``) out as a string with two to four decimals."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_ratio(value)


class LineOutSchema(Schema):
    """A priced line: a stored :class:`VisitLine`, or a quote's (PricedLine, CatalogItem)."""

    item = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["consultation", "drug", "service", "material"]})
    unit = fields.String()
    insurance_class = fields.String(metadata={"enum": ["A", "B", "C"]})
    quantity = Quantity()
    unit_price = Yuan(metadata={"description": "catalogue price on the visit date"})
    amount = Yuan()
    in_scope = Yuan()
    self_pay = Yuan()
    national_code = fields.String(
        allow_none=True,
        metadata={"description": "the national catalogue code (med_list_codg) on the visit date"},
    )
    fee_class = fields.String(
        allow_none=True, metadata={"description": "the platform's fee class (med_chrgitm_type)"}
    )
    selfpay_ratio = RatioText(
        allow_none=True,
        metadata={
            "description": (
                'the item\'s own self-pay ratio (先行自付比例) where it applied, e.g. "0.05"; '
                "null: the policy's class-B ratio (class B) or none"
            )
        },
    )
    price_ceiling = Yuan(
        allow_none=True,
        metadata={
            "description": "the fund's payment ceiling per unit (医保支付限价) where it applied"
        },
    )
    over_ceiling = Yuan(
        metadata={"description": "the part of the amount above the ceiling: never in the fund base"}
    )

    _STORED = {"item": "item_code", "name": "item_name"}  # noqa: RUF012
    _FROM_ITEM = ("name", "unit", "national_code", "fee_class")

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if isinstance(obj, tuple):  # a quote's line: the price from the split, words from the item
            priced, item = obj
            if attr == "over_ceiling":
                return priced.over
            return getattr(item if attr in self._FROM_ITEM else priced, attr, default)
        if attr == "selfpay_ratio":
            return stored_ratio(obj.selfpay_ratio)
        return getattr(obj, self._STORED.get(attr, attr), default)


class EligibilityOutSchema(Schema):
    """A recorded visit's verdict."""

    programme = fields.Boolean()
    insured = fields.Boolean()
    reasons = fields.List(
        fields.String(),
        attribute="reason_codes",
        metadata={
            "description": (
                "Why the visit is not a programme visit (or not insured): no_policy, "
                "unknown_resident, other_district, not_village_hukou, "
                "clinic_not_in_programme, not_insured, deceased (no visit can be recorded)"
            )
        },
    )


class QuoteEligibilitySchema(EligibilityOutSchema):
    """A quote's verdict: the split's, with the reasons of the assessment."""

    programme = fields.Boolean(attribute="split.programme")
    insured = fields.Boolean(attribute="split.insured")
    reasons = fields.List(fields.String(), attribute="eligibility.reasons")


class VoidOutSchema(Schema):
    reason = fields.String(attribute="void_reason")
    at = LocalTime(attribute="voided_at")


class VisitPatientSchema(Schema):
    id_number = MaskedIdNumber(attribute="patient_id_number")


_RULES = [rule.value for rule in Rule]


class CheckOutSchema(Schema):
    """A check at recording that fired: a quote's hit, or one stored with a visit."""

    rule = fields.String(metadata={"enum": _RULES})
    severity = fields.String(
        metadata={"enum": ["warn", "block"], "description": "warn: needs a reason; block: refused"}
    )
    item = fields.String(
        allow_none=True, metadata={"description": "the catalogue item it is about, if any"}
    )
    field = fields.String(
        metadata={"description": "what it points at: lines[i].item or visit"},
    )
    message = fields.String(metadata={"description": "in English; pages say it in Chinese"})
    facts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "the inputs that made it fire (quantities in thousandths)"},
    )
    reason = fields.String(
        allow_none=True, metadata={"description": "the doctor's reason (stored checks)"}
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        hit, where, reason = obj
        if attr == "rule":
            return hit.rule.value
        if attr == "severity":
            return hit.severity.value
        if attr == "item":
            return hit.subject or None
        if attr == "field":
            return where
        if attr == "message":
            return describe(hit)
        if attr == "facts":
            return dict(hit.facts)
        return reason


class DiagnosisOutSchema(Schema):
    """One of a visit's diagnoses: a (code, name) pair."""

    code = fields.String(metadata={"example": "J06.900"})
    name = fields.String(metadata={"example": "急性上呼吸道感染"})
    main = fields.Boolean(metadata={"description": "the main diagnosis (the first)"})

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        (code, name), main = obj
        return {"code": code, "name": name, "main": main}[attr]


def _diagnosis_pairs(pairs: Any) -> list[Any]:
    return [(pair, i == 0) for i, pair in enumerate(pairs)]


class VisitSchema(Schema):
    """A recorded visit (a :class:`Visit` row)."""

    id = fields.Integer()
    receipt_number = fields.String(metadata={"example": "HD001-2026-000001"})
    clinic = fields.String(attribute="clinic.code")
    visited_at = LocalTime()
    patient = Whole(VisitPatientSchema)
    programme = fields.Boolean()
    eligibility = Whole(EligibilityOutSchema)
    injection = fields.Boolean()
    diagnoses = fields.List(
        fields.Nested(DiagnosisOutSchema),
        metadata={"description": "the visit's diagnoses, the main one first"},
    )
    practitioner_code = fields.String(
        allow_none=True,
        metadata={"description": "the recording doctor's practitioner code (医保医师编码)"},
    )
    lines = fields.List(fields.Nested(LineOutSchema))
    totals = Whole(TotalsSchema)
    voided = fields.Boolean()
    void = Whole(VoidOutSchema, when=lambda visit: visit.voided_at is not None)
    checks = fields.List(
        fields.Nested(CheckOutSchema),
        metadata={"description": "the checks at recording that warned, with the reason given"},
    )
    insurance = fields.Nested(
        SettlementOutSchema,
        allow_none=True,
        metadata={
            "description": "with a platform configured: the visit's settlement with it "
            "(SPEC §7); absent when none is configured, null for a visit not claimed"
        },
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr == "checks":
            codes = [line.item_code for line in obj.lines]
            return [stored_check(row, codes) for row in obj.checks]
        if attr == "diagnoses":
            return _diagnosis_pairs(obj.diagnosis_list)
        return super().get_attribute(obj, attr, default)


def visit_answer(visit: Visit) -> dict[str, Any]:
    """``VisitSchema().dump(visit)``, built directly: the answer of ``POST /visits``.

    Recording answers every visit it writes; the schema's field-by-field dump
    was a tenth of a recorded visit's time.  The same keys and values, through
    the same formatting (:func:`format_yuan`, :func:`format_quantity`, masked ID
    number, Asia/Shanghai times); stored checks, rare, still go through their
    schema.  :class:`VisitSchema` stays what documents the answer, and a test
    compares the two on every kind of visit.
    """
    yuan = format_yuan
    voided_at = visit.voided_at
    lines = visit.lines
    checks = visit.checks
    return {
        "id": visit.id,
        "receipt_number": _text(visit.receipt_number),
        "clinic": _text(visit.clinic.code),
        "visited_at": _local_time(visit.visited_at),
        "patient": {"id_number": _masked_id(visit.patient_id_number)},
        "programme": visit.programme,
        "eligibility": {
            "programme": visit.programme,
            "insured": visit.insured,
            "reasons": visit.reason_codes,
        },
        "injection": visit.injection,
        "diagnoses": [
            {"code": code, "name": name, "main": i == 0}
            for i, (code, name) in enumerate(visit.diagnosis_list)
        ],
        "practitioner_code": visit.practitioner_code,
        "lines": [
            {
                "item": line.item_code,
                "name": line.item_name,
                "kind": line.kind,
                "unit": line.unit,
                "insurance_class": line.insurance_class,
                "quantity": format_quantity(line.quantity),
                "unit_price": yuan(line.unit_price),
                "amount": yuan(line.amount),
                "in_scope": yuan(line.in_scope),
                "self_pay": yuan(line.self_pay),
                "national_code": line.national_code,
                "fee_class": line.fee_class,
                "selfpay_ratio": None
                if line.selfpay_ratio is None
                else format_ratio(Decimal(line.selfpay_ratio) / RATIO_SCALE),
                "price_ceiling": None if line.price_ceiling is None else yuan(line.price_ceiling),
                "over_ceiling": yuan(line.over_ceiling),
            }
            for line in lines
        ],
        "totals": {
            "total": yuan(visit.total),
            "in_scope": yuan(visit.in_scope),
            "self_pay": yuan(visit.self_pay),
            "fund": yuan(visit.fund),
            "fiscal": yuan(visit.fiscal),
            "patient": {
                "registration": yuan(visit.registration),
                "injection": yuan(visit.injection_fee),
                "copay": yuan(visit.copay),
                "self_pay": yuan(visit.self_pay),
                "total": yuan(visit.patient),
            },
        },
        "voided": voided_at is not None,
        "void": None
        if voided_at is None
        else {"reason": _text(visit.void_reason), "at": _local_time(voided_at)},
        "checks": _CHECKS.dump(
            [stored_check(row, [line.item_code for line in lines]) for row in checks]
        )
        if checks
        else [],
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _local_time(value: dt.datetime | None) -> str | None:
    return None if value is None else local(value).isoformat()


def _masked_id(value: str | None) -> str | None:
    return None if value is None else mask_id_number(value)


_CHECKS = CheckOutSchema(many=True)


class QuotePatientSchema(Schema):
    id_number = MaskedIdNumber()
    name = MaskedName(allow_none=True)
    hukou_village = fields.String(allow_none=True)
    insurance_type = fields.String(allow_none=True)

    def get_attribute(self, obj: Quote, attr: str, default: Any) -> Any:
        resident = obj.resident
        if attr == "id_number":
            return obj.id_number
        if attr == "hukou_village":
            return obj.hukou_village.name if obj.hukou_village else None
        return getattr(resident, attr, None) if resident else None


class FundYearQuoteSchema(Schema):
    paid_before = Yuan(
        attribute="usage.fund_paid",
        metadata={"description": "fund paid for this person this year before the visit"},
    )
    cap_left_after = Yuan(allow_none=True)

    def get_attribute(self, obj: Quote, attr: str, default: Any) -> Any:
        if attr == "cap_left_after":
            version = obj.policy_version
            if version is None or not obj.split.insured:
                return None
            return version.fund_annual_cap - obj.split.usage_after.fund_paid
        return super().get_attribute(obj, attr, default)


class QuoteSchema(Schema):
    """A priced visit, not saved (a :class:`Quote`)."""

    clinic = fields.String(attribute="clinic.code")
    visited_at = LocalTime()
    patient = Whole(QuotePatientSchema)
    programme = fields.Boolean(attribute="split.programme")
    eligibility = Whole(QuoteEligibilitySchema)
    injection = fields.Boolean()
    diagnoses = fields.List(
        fields.Nested(DiagnosisOutSchema),
        metadata={"description": "the visit's diagnoses, the main one first"},
    )
    lines = fields.List(fields.Nested(LineOutSchema))
    totals = fields.Nested(QuoteTotalsSchema, attribute="split")
    fund_year = Whole(FundYearQuoteSchema)
    checks = fields.List(
        fields.Nested(CheckOutSchema),
        metadata={
            "description": (
                "The checks at recording that fire on this visit as it stands: a block "
                "would refuse it, a warning would need `warning_reason`"
            )
        },
    )

    def get_attribute(self, obj: Quote, attr: str, default: Any) -> Any:
        if attr == "lines":
            return list(zip(obj.split.lines, obj.items, strict=True))
        if attr == "diagnoses":
            return _diagnosis_pairs(obj.diagnoses)
        if attr == "checks":
            return [
                (hit, where, None)
                for hit, where in zip(obj.checks.hits, obj.checks.fields, strict=True)
            ]
        return super().get_attribute(obj, attr, default)


class HukouVillageSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["village", "community"]})
    town = fields.String(attribute="town.name")
    district = fields.String(attribute="town.district_code")


class InsuranceSchema(Schema):
    type = fields.String(
        attribute="resident.insurance_type", metadata={"enum": ["resident", "employee", "none"]}
    )
    insured_from = fields.Date(attribute="resident.insured_from", allow_none=True)
    insured_to = fields.Date(attribute="resident.insured_to", allow_none=True)
    active = fields.Boolean(attribute="eligibility.insured")


class FundYearSchema(Schema):
    year = fields.Integer(attribute="day.year")
    paid = Yuan(attribute="fund_paid")
    cap = Yuan(attribute="fund_cap", allow_none=True)
    left = Yuan(attribute="cap_left", allow_none=True)


class PatientEligibilitySchema(Schema):
    """Who the patient is and the verdict (a :class:`PatientEligibility`)."""

    id_number = MaskedIdNumber()
    name = MaskedName(allow_none=True)
    registered = fields.Boolean()
    sex = fields.String(allow_none=True)
    hukou_village = fields.Nested(HukouVillageSchema, attribute="village", allow_none=True)
    insurance = Whole(InsuranceSchema, when=lambda found: found.resident is not None)
    clinic = fields.String(attribute="clinic.code")
    date = fields.Date(attribute="day")
    programme = fields.Boolean(attribute="eligibility.programme")
    reasons = fields.List(fields.String(), attribute="eligibility.reasons")
    fund_year = Whole(FundYearSchema)

    def get_attribute(self, obj: PatientEligibility, attr: str, default: Any) -> Any:
        if attr == "registered":
            return obj.resident is not None
        if attr in ("name", "sex"):
            return getattr(obj.resident, attr) if obj.resident else None
        return super().get_attribute(obj, attr, default)


class TerminalItemSchema(Schema):
    """A catalogue offer as the terminal's search list shows it: the API's fields and words.

    The words (``kind_label``, ``class_label``) are the page's labels, in the
    page's language; the API's :class:`app.catalog.schemas.ItemOfferSchema` has none.
    """

    code = fields.String()
    name = fields.String()
    unit = fields.String()
    kind = fields.String()
    kind_label = fields.Function(lambda offer: str(KIND.get(offer.kind, offer.kind)))
    insurance_class = fields.String()
    class_label = fields.Function(lambda offer: str(INSURANCE_CLASS.get(offer.insurance_class, "")))
    price = Yuan()
    injectable = fields.Boolean()


class TerminalDiagnosisSchema(Schema):
    """A diagnosis code as the terminal's search lists it."""

    code = fields.String()
    name = fields.String()
    system = fields.String()
    pinyin = fields.String()
