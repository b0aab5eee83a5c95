"""supply: dispenses and counts of a prescription's formulations

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 04:00:00
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

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supply_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("formulation", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.Numeric(14, 4), nullable=False),
        sa.Column("dispensed_on", sa.Date(), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opens_supply", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["prescription_id"], ["prescriptions.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supply_entries_rx", "supply_entries", ["prescription_id", "effective_at"])
    op.create_index("ix_supply_entries_patient", "supply_entries", ["patient_id", "recorded_at"])
    # Clinical data is never rewritten: a mistaken entry is corrected by a count.
    forbid_changes("supply_entries")
    forbid_truncate("supply_entries")


def downgrade() -> None:
    allow_truncate("supply_entries")
    allow_changes("supply_entries")
    op.drop_index("ix_supply_entries_patient", table_name="supply_entries")
    op.drop_index("ix_supply_entries_rx", table_name="supply_entries")
    op.drop_table("supply_entries")
