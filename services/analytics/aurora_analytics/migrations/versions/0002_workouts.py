"""Workouts: analytics' copy of dedup's canonical workouts (tombstones kept).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "analytics"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workouts",
        sa.Column("canonical_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("sport", sa.Text(), nullable=True),
        sa.Column("start_at", TS, nullable=True),
        sa.Column("end_at", TS, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("metrics", JSONB(), nullable=True),
        sa.Column("primary_source", sa.Text(), nullable=True),
        sa.Column("removed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_event_at", TS, nullable=False),
        sa.Column("last_event_id", UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("canonical_id", name="pk_workouts"),
        sa.CheckConstraint(
            "removed OR (sport IS NOT NULL AND start_at IS NOT NULL AND end_at IS NOT NULL"
            " AND duration_s IS NOT NULL AND metrics IS NOT NULL AND primary_source IS NOT NULL)",
            name="ck_workouts_live_has_data",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_workouts_user_start", "workouts", ["user_id", "start_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("workouts", schema=SCHEMA)
