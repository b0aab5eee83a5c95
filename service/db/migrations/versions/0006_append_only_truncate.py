"""append-only tables refuse TRUNCATE too (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from service.db.migrations.triggers import allow_truncate, forbid_truncate

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = (
    "audit_events",
    "prescription_versions",
    "prescription_findings",
    "taper_plan_versions",
    "taper_step_records",
    "taper_symptom_reports",
)


def upgrade() -> None:
    for table in APPEND_ONLY:
        forbid_truncate(table)


def downgrade() -> None:
    for table in reversed(APPEND_ONLY):
        allow_truncate(table)
