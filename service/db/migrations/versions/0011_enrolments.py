"""enrolments: a clinician's request to care for someone, by e-mail

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinician_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("invited_user_id", sa.Uuid(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["clinician_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["invited_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_enrolments_clinician_id", "enrolments", ["clinician_id"])
    op.create_index("ix_enrolments_patient_id", "enrolments", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_enrolments_patient_id", table_name="enrolments")
    op.drop_index("ix_enrolments_clinician_id", table_name="enrolments")
    op.drop_table("enrolments")
