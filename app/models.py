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
    VisitDisowned,
)
from app.people.models import Resident
from app.periods.models import Statement, StatementEvent
from app.places.models import Clinic, District, Town, Village
from app.policy.models import PolicyVersion
from app.reconcile.models import FundFile, FundFinding, FundSettlement
from app.settlement.models import StatementAdjustment
from app.stock.models import StockDelivery, StockTake
from app.visits.models import (
    ClinicDay,
    ClinicMonthItem,
    DispensedPack,
    FundUsage,
    IdempotencyKey,
    ReceiptCounter,
    Visit,
    VisitCheck,
    VisitLine,
)
from app.web.throttle import ThrottleCounter

__all__ = [
    "ApiToken",
    "AuditChain",
    "AuditEntry",
    "CatalogItem",
    "Clinic",
    "ClinicDay",
    "ClinicFlag",
    "ClinicMonthItem",
    "DispensedPack",
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
    "StockDelivery",
    "StockTake",
    "ThrottleCounter",
    "Town",
    "User",
    "Village",
    "Visit",
    "VisitCheck",
    "VisitDisowned",
    "VisitLine",
]
