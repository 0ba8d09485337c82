"""Connections: one OAuth grant per (user, provider), tokens encrypted with Fernet.

Revision ID: 0005_connections
Revises: 0004_provider_store
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_connections"
down_revision: str | None = "0004_provider_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"

# Frozen here: a new provider or status is a later migration.
PROVIDERS = "'strava', 'whoop'"
STATUSES = "'active', 'degraded', 'revoked'"


def _timestamp(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.func.now() if default else None,
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_user_id", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        _timestamp("expires_at"),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        _timestamp("connected_at", nullable=False, default=True),
        _timestamp("last_used_at"),
        _timestamp("last_synced_at"),
        _timestamp("revoked_at"),
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("updated_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.UniqueConstraint("user_id", "provider", name="uq_connections_user_id_provider"),
        sa.CheckConstraint(f"provider IN ({PROVIDERS})", name="ck_connections_provider"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_connections_status"),
        sa.CheckConstraint(
            "status <> 'revoked' OR (access_token_enc IS NULL AND refresh_token_enc IS NULL"
            " AND revoked_at IS NOT NULL)",
            name="ck_connections_revoked_wiped",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_connections_provider_account",
        "connections",
        ["provider", "provider_user_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status <> 'revoked'"),
    )


def downgrade() -> None:
    op.drop_index("uq_connections_provider_account", table_name="connections", schema=SCHEMA)
    op.drop_table("connections", schema=SCHEMA)
