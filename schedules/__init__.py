"""The scheduler process: periodic APScheduler jobs that call use cases.

It imports use cases and persistence, never Flask (checked by import-linter).
"""
