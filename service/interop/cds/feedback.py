"""CDS Hooks: feedback (being built)."""
