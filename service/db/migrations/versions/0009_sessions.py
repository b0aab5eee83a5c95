"""refresh tokens, session families, login failure counters and password resets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        _instant("created_at"),
        _instant("refreshed_at", nullable=True),
        _instant("revoked_at", nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("session_id", sa.Uuid(), sa.ForeignKey("auth_sessions.id"), nullable=False),
        _instant("issued_at"),
        _instant("expires_at"),
        _instant("used_at", nullable=True),
    )
    op.create_index("ix_refresh_tokens_session_id", "refresh_tokens", ["session_id"])
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("issued_by", sa.Uuid(), sa.ForeignKey("users.id"), nullable=True),
        _instant("created_at"),
        _instant("expires_at"),
        _instant("used_at", nullable=True),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])
    op.create_table(
        "account_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        _instant("created_at"),
    )
    op.create_index("ix_account_notices_user", "account_notices", ["user_id", "created_at"])
    op.add_column(
        "users", sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("login_failures", _instant("blocked_until", nullable=True))
    # Token rows are now keyed by a digest of the token id: rows kept under the
    # plain id could never match again, so they go (their tokens lived an hour).
    op.execute("DELETE FROM auth_tokens")
    # auth_tokens has no triggers, so SQLite may rebuild it to add the foreign key.
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(sa.Column("session_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key(
            "fk_auth_tokens_session_id", "auth_sessions", ["session_id"], ["id"]
        )
        batch.create_index("ix_auth_tokens_session_id", ["session_id"])


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_index("ix_auth_tokens_session_id")
        batch.drop_constraint("fk_auth_tokens_session_id", type_="foreignkey")
        batch.drop_column("generation")
        batch.drop_column("session_id")
    op.drop_column("login_failures", "blocked_until")
    op.drop_column("users", "token_generation")
    op.drop_index("ix_account_notices_user", table_name="account_notices")
    op.drop_table("account_notices")
    op.drop_index("ix_password_resets_user_id", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_index("ix_refresh_tokens_session_id", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index("ix_auth_sessions_user_id", table_name="auth_sessions")
    op.drop_table("auth_sessions")
