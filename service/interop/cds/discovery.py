"""CDS Hooks: discovery (being built)."""
