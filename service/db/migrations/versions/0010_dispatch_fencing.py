"""outbox claim fencing: a token per claim, required to settle

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 06:00:00

The circuit state of receiving endpoints is kept in each scheduler process
(service.notify.breaker), so this revision adds no table for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no default) on both engines: no table rewrite. Rows
    # claimed before the upgrade carry no token; their claim lapses and is taken anew.
    op.add_column("notifications", sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "claim_token")
