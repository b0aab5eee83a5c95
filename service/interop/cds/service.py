"""CDS Hooks: service (being built)."""
