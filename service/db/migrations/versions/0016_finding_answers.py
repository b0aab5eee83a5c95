"""finding answers: whether a finding was acknowledged or overridden

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 00:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Findings answered before this revision keep a null: which answer it was was
    # not recorded, and is not guessed.
    with op.batch_alter_table("patient_findings") as batch:
        batch.add_column(sa.Column("acknowledged_as", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_findings") as batch:
        batch.drop_column("acknowledged_as")
