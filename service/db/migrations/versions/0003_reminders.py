"""reminders: dose events, the notification outbox, registered devices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("prescriptions", _utc("planned_until", nullable=True))
    op.add_column("prescriptions", _utc("plan_from", nullable=True))
    op.create_table(
        "dose_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prescription_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _utc("scheduled_at"),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=5), nullable=True),
        sa.Column("drug", sa.String(length=200), nullable=False),
        sa.Column("dose_amount", sa.Numeric(14, 4), nullable=False),
        sa.Column("dose_unit", sa.String(length=16), nullable=False),
        sa.Column("withdrawal_risk", sa.Boolean(), nullable=False),
        sa.Column("prn", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _utc("taken_at", nullable=True),
        sa.Column("skip_reason", sa.String(length=500), nullable=True),
        sa.Column("logged_by", sa.Uuid(), nullable=True),
        _utc("logged_at", nullable=True),
        _utc("snoozed_until", nullable=True),
        sa.Column("snoozes", sa.Integer(), nullable=False),
        _utc("care_team_notified_at", nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(["logged_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["prescription_id"], ["prescriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prescription_id", "scheduled_at", name="uq_dose_events_rx_instant"),
    )
    op.create_index("ix_dose_events_patient_time", "dose_events", ["patient_id", "scheduled_at"])
    op.create_index("ix_dose_events_status_time", "dose_events", ["status", "scheduled_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("dose_event_id", sa.Uuid(), nullable=True),
        _utc("due_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("next_attempt_at"),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        _utc("sent_at", nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _utc("created_at"),
        _utc("updated_at"),
        sa.ForeignKeyConstraint(["dose_event_id"], ["dose_events.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    claimable = sa.text("status IN ('pending', 'claimed')")
    op.create_index(
        "ix_notifications_claimable",
        "notifications",
        ["next_attempt_at"],
        sqlite_where=claimable,
        postgresql_where=claimable,
    )
    op.create_index("ix_notifications_dose_event", "notifications", ["dose_event_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=True),
        sa.Column("token", sa.String(length=4096), nullable=True),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        _utc("created_at"),
        _utc("removed_at", nullable=True),
        sa.Column("removed_reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_devices_user_active", "devices", ["user_id", "removed_at"])


def downgrade() -> None:
    op.drop_table("devices")
    op.drop_table("notifications")
    op.drop_table("dose_events")
    with op.batch_alter_table("prescriptions") as batch_op:
        batch_op.drop_column("plan_from")
        batch_op.drop_column("planned_until")
