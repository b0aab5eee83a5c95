"""Every module of the FHIR API that adds routes, imported once when it is mounted."""

from __future__ import annotations


def load() -> None:
    from service.interop.fhir import (  # noqa: F401
        administrations,
        audit_events,
        detected_issues,
        everything,
        imports,
        medication_requests,
        metadata,
        patients,
    )
