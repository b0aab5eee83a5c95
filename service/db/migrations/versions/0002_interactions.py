"""interaction checking: catalog link on prescription versions, stored findings, imported rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.db.migrations.triggers import allow_changes, forbid_changes

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild), so the append-only triggers stay.
    op.add_column("prescription_versions", sa.Column("drug_id", sa.String(length=200)))
    op.add_column("prescription_versions", sa.Column("ingredients", sa.JSON()))
    op.create_table(
        "prescription_findings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("finding_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("knowledge_base_version", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["prescription_id"], ["prescriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_prescription_findings_prescription_id", "prescription_findings", ["prescription_id"]
    )
    op.create_table(
        "interaction_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("pairs_stored", sa.Integer(), nullable=False),
        sa.Column("unknown_level", sa.Integer(), nullable=False),
        sa.Column("unresolved_names", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "imported_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=16), nullable=False),
        sa.Column("drug_a", sa.String(length=200), nullable=False),
        sa.Column("drug_b", sa.String(length=200), nullable=False),
        sa.Column("name_a", sa.String(length=200), nullable=False),
        sa.Column("name_b", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("mechanism", sa.String(length=4000), nullable=True),
        sa.Column("management", sa.String(length=4000), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["interaction_imports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset", "drug_a", "drug_b"),
    )
    op.create_index("ix_imported_pair", "imported_interactions", ["drug_a", "drug_b"])
    op.create_index("ix_imported_drug_b", "imported_interactions", ["drug_b"])
    forbid_changes("prescription_findings")


def downgrade() -> None:
    allow_changes("prescription_findings")
    op.drop_table("imported_interactions")
    op.drop_table("interaction_imports")
    op.drop_table("prescription_findings")
    # SQLite rebuilds the table to drop columns, which loses its triggers.
    allow_changes("prescription_versions")
    with op.batch_alter_table("prescription_versions") as batch_op:
        batch_op.drop_column("ingredients")
        batch_op.drop_column("drug_id")
    forbid_changes("prescription_versions")
