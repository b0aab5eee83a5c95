"""audit entries chained by hash, anchors and client request ids

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from service.db.migrations.triggers import (
    allow_changes,
    allow_truncate,
    forbid_changes,
    forbid_truncate,
)
from service.domain.audit_chain import Head, chain_of, extend

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAIN_COLUMNS = (
    sa.Column("client_request_id", sa.String(length=64), nullable=True),
    sa.Column("chain_key", sa.String(length=40), nullable=True),
    sa.Column("chain_seq", sa.Integer(), nullable=True),
    sa.Column("prev_hash", sa.String(length=64), nullable=True),
    sa.Column("entry_hash", sa.String(length=64), nullable=True),
)

_EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("recorded", sa.DateTime(timezone=True)),
    sa.column("action", sa.String()),
    sa.column("subtype", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("outcome_desc", sa.String()),
    sa.column("actor_id", sa.Uuid()),
    sa.column("actor_role", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("patient_id", sa.Uuid()),
    sa.column("request_id", sa.String()),
    sa.column("client_request_id", sa.String()),
    sa.column("source_ip", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("chain_key", sa.String()),
    sa.column("chain_seq", sa.Integer()),
    sa.column("prev_hash", sa.String()),
    sa.column("entry_hash", sa.String()),
)


def _chain_existing_entries() -> None:
    """Entries written before this release join their chains in the order they
    were written; the append-only triggers are lifted for that one pass only."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(_EVENTS).order_by(_EVENTS.c.id)).mappings().all()
    if not rows:
        return
    heads: dict[str, Head] = {}
    links: list[dict[str, Any]] = []
    for row in rows:
        entry = dict(row)
        key = chain_of(entry["patient_id"])
        heads[key] = extend(heads.get(key), entry, key)
        links.append(
            {
                "row_id": entry["id"],
                "key": key,
                "seq": entry["chain_seq"],
                "prev": entry["prev_hash"],
                "hash": entry["entry_hash"],
            }
        )
    allow_changes("audit_events")
    bind.execute(
        _EVENTS.update()
        .where(_EVENTS.c.id == sa.bindparam("row_id"))
        .values(
            chain_key=sa.bindparam("key"),
            chain_seq=sa.bindparam("seq"),
            prev_hash=sa.bindparam("prev"),
            entry_hash=sa.bindparam("hash"),
        ),
        links,
    )
    forbid_changes("audit_events")


def upgrade() -> None:
    # Plain ADD COLUMN on both engines: a batch rebuild would drop the append-only triggers.
    for column in CHAIN_COLUMNS:
        op.add_column("audit_events", column)
    _chain_existing_entries()
    op.create_index("ux_audit_chain_seq", "audit_events", ["chain_key", "chain_seq"], unique=True)
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("prev_digest", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    forbid_changes("audit_anchors")
    forbid_truncate("audit_anchors")


def downgrade() -> None:
    allow_truncate("audit_anchors")
    allow_changes("audit_anchors")
    op.drop_table("audit_anchors")
    op.drop_index("ux_audit_chain_seq", table_name="audit_events")
    for column in reversed(CHAIN_COLUMNS):
        op.drop_column("audit_events", column.name)
