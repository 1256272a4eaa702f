"""Policy versions per district. Immutable once a visit has used one.

:meth:`PolicyVersion.to_policy` parses a version's row into a :class:`Policy`
once per process and content: the parsed value is cached under the version's
id **and every column it is built from** (its content), so a version changed
in place (allowed while no visit has used it) or a new version is parsed
afresh at its first use — never a stale policy — and a version unchanged is
not re-parsed from its JSON on every visit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.checks.rules import OversightPolicy, oversight_from_json, oversight_to_json
from app.extensions import Model
from app.money import exact_int
from app.policy.rules import Policy

RATIO_SCALE = 10000  # ratios are stored as integer ten-thousandths (0.70 → 7000)


class PolicyVersion(Model):
    __tablename__ = "policy_version"
    __table_args__ = (
        UniqueConstraint("district_code", "effective_from"),
        CheckConstraint(
            "registration_fee >= 0 AND injection_fee >= 0 AND fund_deductible >= 0 "
            "AND fund_annual_cap >= 0 AND (fund_visit_cap IS NULL OR fund_visit_cap >= 0)",
            name="money_not_negative",
        ),
        CheckConstraint(
            "fund_ratio BETWEEN 0 AND 10000 AND class_b_selfpay_ratio BETWEEN 0 AND 10000",
            name="ratios_in_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), index=True)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    registration_fee: Mapped[int]
    injection_fee: Mapped[int]
    fund_ratio: Mapped[int]
    fund_deductible: Mapped[int]
    fund_annual_cap: Mapped[int]
    fund_visit_cap: Mapped[int | None]
    class_b_selfpay_ratio: Mapped[int]
    class_b_selfpay_backstopped: Mapped[bool]
    require_insured: Mapped[bool]
    over_ceiling_backstopped: Mapped[bool] = mapped_column(default=False)
    require_diagnosis: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(200), default="")
    # The [checks], [flags], [review] and [auto_submit] tables as canonical JSON
    # (app.checks.rules.oversight_to_json); None: none of them, all off.
    # Part of the version like the rest: a change is a new version once used.
    oversight: Mapped[str | None] = mapped_column(Text)
    settlement_date_tolerance_days: Mapped[int] = mapped_column(default=1, server_default="1")

    def to_policy(self) -> Policy:
        """The version as a :class:`Policy`; parsed once per id and content (frozen values)."""
        return _parsed(
            self.id,
            self.registration_fee,
            self.injection_fee,
            self.fund_ratio,
            self.fund_deductible,
            self.fund_annual_cap,
            self.fund_visit_cap,
            self.class_b_selfpay_ratio,
            self.class_b_selfpay_backstopped,
            self.require_insured,
            self.over_ceiling_backstopped,
            self.require_diagnosis,
            self.oversight,
            self.settlement_date_tolerance_days,
        )

    @staticmethod
    def columns_for(policy: Policy) -> dict[str, int | bool | str | None]:
        return {
            "registration_fee": policy.registration_fee,
            "injection_fee": policy.injection_fee,
            "fund_ratio": exact_int(policy.fund_ratio * RATIO_SCALE),
            "fund_deductible": policy.fund_deductible,
            "fund_annual_cap": policy.fund_annual_cap,
            "fund_visit_cap": policy.fund_visit_cap,
            "class_b_selfpay_ratio": exact_int(policy.class_b_selfpay_ratio * RATIO_SCALE),
            "class_b_selfpay_backstopped": policy.class_b_selfpay_backstopped,
            "require_insured": policy.require_insured,
            "over_ceiling_backstopped": policy.over_ceiling_backstopped,
            "require_diagnosis": policy.require_diagnosis,
            "oversight": (
                oversight_to_json(policy.oversight)
                if policy.oversight != OversightPolicy()
                else None
            ),
            "settlement_date_tolerance_days": policy.settlement_date_tolerance_days,
        }


# Keyed by the version's id and all its columns: a changed row is a new key, so it
# is parsed again at once; the old entry ages out.  A few versions per district.
@lru_cache(maxsize=256)
def _parsed(
    version_id: int | None,
    registration_fee: int,
    injection_fee: int,
    fund_ratio: int,
    fund_deductible: int,
    fund_annual_cap: int,
    fund_visit_cap: int | None,
    class_b_selfpay_ratio: int,
    class_b_selfpay_backstopped: bool,
    require_insured: bool,
    over_ceiling_backstopped: bool,
    require_diagnosis: bool,
    oversight: str | None,
    settlement_date_tolerance_days: int,
) -> Policy:
    return Policy(
        registration_fee=registration_fee,
        injection_fee=injection_fee,
        fund_ratio=Decimal(fund_ratio) / RATIO_SCALE,
        fund_deductible=fund_deductible,
        fund_annual_cap=fund_annual_cap,
        fund_visit_cap=fund_visit_cap,
        class_b_selfpay_ratio=Decimal(class_b_selfpay_ratio) / RATIO_SCALE,
        class_b_selfpay_backstopped=class_b_selfpay_backstopped,
        require_insured=require_insured,
        over_ceiling_backstopped=over_ceiling_backstopped,
        require_diagnosis=require_diagnosis,
        oversight=oversight_from_json(oversight),
        settlement_date_tolerance_days=settlement_date_tolerance_days,
    )
