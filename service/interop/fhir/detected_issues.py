"""FHIR: detected_issues (being built)."""

from __future__ import annotations

import uuid
from typing import Any


def for_patient(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The resources of this type in the patient's $everything, read through the
    same use cases (and so the same access rules and read audit) as the search."""
    return []
