"""FHIR: everything (being built)."""
