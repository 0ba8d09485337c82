"""Accounts: the mirror of identity's decisions (blocked users, erasure log, coach grants).

Revision ID: 0003_accounts
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision: str = "0003_accounts"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "analytics"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blocked_users",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("deleted_at", TS, nullable=False),
        sa.Column("blocked_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_blocked_users"),
        schema=SCHEMA,
    )
    op.create_table(
        "erased_users",
        sa.Column("user_digest", sa.Text(), nullable=False),
        sa.Column("erased_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_digest", name="pk_erased_users"),
        schema=SCHEMA,
    )
    op.create_table(
        "grants",
        sa.Column("grant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("athlete_id", UUID(as_uuid=True), nullable=False),
        sa.Column("coach_id", UUID(as_uuid=True), nullable=False),
        sa.Column("scopes", ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("grant_id", name="pk_grants"),
        schema=SCHEMA,
    )
    op.create_index("ix_grants_athlete_coach", "grants", ["athlete_id", "coach_id"], schema=SCHEMA)
    op.create_index("ix_grants_coach_id", "grants", ["coach_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("grants", schema=SCHEMA)
    op.drop_table("erased_users", schema=SCHEMA)
    op.drop_table("blocked_users", schema=SCHEMA)
