"""abrupt-stop reasons and resume dates on versions, screening, conditions, reported
products and the patient's current findings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN on both engines: a batch rebuild would drop the append-only triggers.
VERSION_COLUMNS = (
    sa.Column("abrupt_stop_reason", sa.String(length=2000), nullable=True),
    sa.Column("resume_on", sa.Date(), nullable=True),
    sa.Column("drug_name", sa.String(length=200), nullable=True),
    sa.Column("screening", sa.String(length=16), nullable=False, server_default="full"),
    sa.Column("unlisted_reason", sa.String(length=2000), nullable=True),
)


def _ended() -> list[sa.Column[object]]:
    return [
        sa.Column("ended_by", sa.Uuid(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    for column in VERSION_COLUMNS:
        op.add_column("prescription_versions", column)
    op.add_column("patients", sa.Column("screened_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("patients", sa.Column("screened_with", sa.String(length=64), nullable=True))
    op.create_index("ix_patients_screened_at", "patients", ["screened_at"])
    op.create_table(
        "patient_conditions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("patient_id", sa.Uuid(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("child_pugh", sa.String(length=1), nullable=True),
        sa.Column("egfr", sa.Numeric(6, 1), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        *_ended(),
        sa.Column("ended_reason", sa.String(length=500), nullable=True),
    )
    op.create_index(
        "ix_patient_conditions_patient", "patient_conditions", ["patient_id", "ended_at"]
    )
    op.create_table(
        "reported_products",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("patient_id", sa.Uuid(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("drug_id", sa.String(length=200), nullable=True),
        sa.Column("drug_name", sa.String(length=200), nullable=True),
        sa.Column("ingredients", sa.JSON(), nullable=True),
        sa.Column("how_often", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("reported_by", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        *_ended(),
    )
    op.create_index("ix_reported_products_patient", "reported_products", ["patient_id", "ended_at"])
    op.create_table(
        "patient_findings",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("patient_id", sa.Uuid(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("finding_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("knowledge_base_version", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_reason", sa.String(length=2000), nullable=True),
        sa.Column("care_team_notified_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_patient_findings_open", "patient_findings", ["patient_id", "resolved_at"])
    op.create_index(
        "uq_patient_findings_open",
        "patient_findings",
        ["patient_id", "finding_id"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("patient_findings")
    op.drop_table("reported_products")
    op.drop_table("patient_conditions")
    op.drop_index("ix_patients_screened_at", table_name="patients")
    op.drop_column("patients", "screened_with")
    op.drop_column("patients", "screened_at")
    for column in reversed(VERSION_COLUMNS):
        # SQLite drops a column in place since 3.35; the triggers stay.
        op.drop_column("prescription_versions", column.name)
