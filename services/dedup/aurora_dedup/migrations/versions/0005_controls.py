"""Controls: per-domain priority overrides, manual workout links, canonical field sources.

Revision ID: 0005_controls
Revises: 0004_health
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision: str = "0005_controls"
down_revision: str | None = "0004_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dedup"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "canonical_workouts",
        sa.Column("field_sources", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "priority_overrides",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("domain", sa.Text(), nullable=False),
        sa.Column("priorities", JSONB(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "domain", name="pk_priority_overrides"),
        sa.CheckConstraint(
            "domain IN ('workouts', 'sleep', 'recovery')",
            name="ck_priority_overrides_known_domain",
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "workout_links",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("relation", sa.Text(), nullable=False),
        sa.Column("record_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("anchor_id", UUID(as_uuid=True), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workout_links"),
        sa.UniqueConstraint("seq", name="uq_workout_links_seq"),
        sa.CheckConstraint("relation IN ('same', 'apart')", name="ck_workout_links_known_relation"),
        sa.CheckConstraint(
            "cardinality(record_ids) >= 2", name="ck_workout_links_at_least_two_records"
        ),
        sa.CheckConstraint(
            "anchor_id IS NULL OR (relation = 'apart' AND anchor_id = ANY (record_ids))",
            name="ck_workout_links_anchor_splits_one_of_its_records",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_workout_links_user_seq", "workout_links", ["user_id", "seq"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("workout_links", schema=SCHEMA)
    op.drop_table("priority_overrides", schema=SCHEMA)
    op.drop_column("canonical_workouts", "field_sources", schema=SCHEMA)
