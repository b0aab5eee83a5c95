"""patient settings: the language of patient-facing texts and the privacy of notifications

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(
            sa.Column("locale", sa.String(length=16), nullable=False, server_default="en")
        )
        batch.add_column(
            sa.Column(
                "notification_privacy",
                sa.String(length=16),
                nullable=False,
                server_default="discreet",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("notification_privacy")
        batch.drop_column("locale")
