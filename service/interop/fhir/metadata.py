"""FHIR: metadata (being built)."""
