"""worklist marks: items of the clinicians' worklist marked done (append-only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.db.migrations.triggers import (
    allow_changes,
    allow_truncate,
    forbid_changes,
    forbid_truncate,
)

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worklist_marks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("marked_by", sa.Uuid(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["marked_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_key"),
    )
    op.create_index("ix_worklist_marks_patient_id", "worklist_marks", ["patient_id"])
    op.create_index("ix_worklist_marks_subject", "worklist_marks", ["subject_id", "kind"])
    forbid_changes("worklist_marks")
    forbid_truncate("worklist_marks")


def downgrade() -> None:
    allow_truncate("worklist_marks")
    allow_changes("worklist_marks")
    op.drop_index("ix_worklist_marks_subject", table_name="worklist_marks")
    op.drop_index("ix_worklist_marks_patient_id", table_name="worklist_marks")
    op.drop_table("worklist_marks")
