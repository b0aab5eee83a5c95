"""medtrack's own FHIR extensions and code systems, under one canonical base, each
documented in docs/interop.md."""

from __future__ import annotations

CANONICAL = "https://medtrack.dev/fhir"


def structure(name: str) -> str:
    """The canonical URL of one of medtrack's extensions."""
    return f"{CANONICAL}/StructureDefinition/{name}"


def code_system(name: str) -> str:
    """The canonical URL of one of medtrack's code systems."""
    return f"{CANONICAL}/CodeSystem/{name}"


def identifier_system(name: str) -> str:
    """The system of one of medtrack's identifiers (a patient's id here, say)."""
    return f"{CANONICAL}/identifier/{name}"
