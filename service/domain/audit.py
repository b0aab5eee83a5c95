"""Audit vocabulary, after FHIR R4 AuditEvent (action and outcome value sets)."""

from __future__ import annotations

import enum


class AuditAction(enum.StrEnum):
    """FHIR AuditEvent.action: create, read, update, delete, execute."""

    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class AuditOutcome(enum.StrEnum):
    """FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious, 12 major."""

    SUCCESS = "0"
    MINOR_FAILURE = "4"
    SERIOUS_FAILURE = "8"
    MAJOR_FAILURE = "12"
