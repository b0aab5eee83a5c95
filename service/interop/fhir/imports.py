"""FHIR: imports (being built)."""
