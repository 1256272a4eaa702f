"""Every model, imported in dependency order so metadata is complete for Alembic."""

from app.audit.models import AuditChain, AuditEntry, ResidentAccess
from app.auth.models import ApiToken, User
from app.catalog.models import CatalogItem, ItemPrice
from app.insurance.models import (
    InsuranceExchange,
    InsuranceSettlement,
    InsuranceSignIn,
    MessageSequence,
)
from app.oversight.models import (
    ClinicFlag,
    ReceiptCode,
    ReceiptFeedback,
    ReviewItem,
    VisitCheck,
)
from app.people.models import Resident
from app.periods.models import Statement, StatementEvent
from app.places.models import Clinic, District, Town, Village
from app.policy.models import PolicyVersion
from app.reconcile.models import FundFile, FundFinding, FundSettlement
from app.settlement.models import StatementAdjustment
from app.visits.models import (
    ClinicDay,
    ClinicMonthItem,
    FundUsage,
    IdempotencyKey,
    ReceiptCounter,
    Visit,
    VisitLine,
)

__all__ = [
    "ApiToken",
    "AuditChain",
    "AuditEntry",
    "CatalogItem",
    "Clinic",
    "ClinicDay",
    "ClinicFlag",
    "ClinicMonthItem",
    "District",
    "FundFile",
    "FundFinding",
    "FundSettlement",
    "FundUsage",
    "IdempotencyKey",
    "InsuranceExchange",
    "InsuranceSettlement",
    "InsuranceSignIn",
    "ItemPrice",
    "MessageSequence",
    "PolicyVersion",
    "ReceiptCode",
    "ReceiptCounter",
    "ReceiptFeedback",
    "Resident",
    "ResidentAccess",
    "ReviewItem",
    "Statement",
    "StatementAdjustment",
    "StatementEvent",
    "Town",
    "User",
    "Village",
    "Visit",
    "VisitCheck",
    "VisitLine",
]
