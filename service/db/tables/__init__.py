"""SQLModel tables. The schema is created only by the Alembic migrations.

Importing this package registers every table on `SQLModel.metadata` (the
migrations' environment and their check against the models rely on it); each
table is importable from here as well as from the module of its concern.
"""

from service.db.tables.accounts import (
    AccountNotice,
    AuthSession,
    AuthToken,
    CareTeamMember,
    Enrolment,
    LoginFailure,
    PasswordReset,
    Patient,
    RefreshToken,
    User,
)
from service.db.tables.audit import AuditAnchor, AuditEvent
from service.db.tables.columns import UTCDateTime
from service.db.tables.doses import Device, DoseEvent, Notification
from service.db.tables.idempotency import IdempotencyKey
from service.db.tables.interop import CdsCard, CdsFeedback, CdsTokenUse, PatientIdentifier
from service.db.tables.knowledge import ImportedInteraction, InteractionImport
from service.db.tables.record import (
    PatientCondition,
    PatientFinding,
    Prescription,
    PrescriptionFinding,
    PrescriptionVersion,
    ReportedProduct,
)
from service.db.tables.supply import SupplyEntry
from service.db.tables.tapers import (
    TaperPlan,
    TaperPlanVersion,
    TaperStepRecord,
    TaperSymptomReport,
)
from service.db.tables.worklist import WorklistMark

__all__ = [
    "AccountNotice",
    "AuditAnchor",
    "AuditEvent",
    "AuthSession",
    "AuthToken",
    "CareTeamMember",
    "CdsCard",
    "CdsFeedback",
    "CdsTokenUse",
    "Device",
    "DoseEvent",
    "Enrolment",
    "IdempotencyKey",
    "ImportedInteraction",
    "InteractionImport",
    "LoginFailure",
    "Notification",
    "PasswordReset",
    "Patient",
    "PatientCondition",
    "PatientFinding",
    "PatientIdentifier",
    "Prescription",
    "PrescriptionFinding",
    "PrescriptionVersion",
    "RefreshToken",
    "ReportedProduct",
    "SupplyEntry",
    "TaperPlan",
    "TaperPlanVersion",
    "TaperStepRecord",
    "TaperSymptomReport",
    "UTCDateTime",
    "User",
    "WorklistMark",
]
