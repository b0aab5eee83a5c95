"""taper step records, symptom reports, and when each plan's next step is due

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.db.migrations.triggers import allow_changes, forbid_changes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("taper_plans") as batch:
        batch.add_column(sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.Uuid(), nullable=True))
        batch.create_foreign_key("fk_taper_plans_approved_by", "users", ["approved_by"], ["id"])
    op.create_index("ix_taper_plans_next_step_at", "taper_plans", ["next_step_at"])
    op.create_table(
        "taper_step_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("prescription_version", sa.Integer(), nullable=False),
        sa.Column("daily_dose_mg", sa.Numeric(14, 4), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["taper_plans.id"]),
        sa.ForeignKeyConstraint(["prescription_id"], ["prescriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "step_index", name="uq_taper_step_records_step"),
    )
    forbid_changes("taper_step_records")
    op.create_table(
        "taper_symptom_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("scale", sa.String(length=64), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("hold_proposed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("reported_by", sa.Uuid(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["taper_plans.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["reported_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_taper_symptom_reports_plan", "taper_symptom_reports", ["plan_id", "reported_at"]
    )
    forbid_changes("taper_symptom_reports")


def downgrade() -> None:
    allow_changes("taper_symptom_reports")
    op.drop_table("taper_symptom_reports")
    allow_changes("taper_step_records")
    op.drop_table("taper_step_records")
    op.drop_index("ix_taper_plans_next_step_at", table_name="taper_plans")
    with op.batch_alter_table("taper_plans") as batch:
        batch.drop_constraint("fk_taper_plans_approved_by", type_="foreignkey")
        batch.drop_column("approved_by")
        batch.drop_column("next_step_at")
