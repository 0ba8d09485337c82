"""Records: normalised workouts (and later sleep, recovery, daily) from every source.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"

# Frozen here: a later change of the vocabulary is a later migration.
KINDS = "'workout', 'sleep', 'recovery', 'daily'"
SOURCES = "'strava', 'garmin', 'polar', 'wahoo', 'whoop', 'apple_health', 'oura', 'manual'"


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("origin_device", sa.Text(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("sport", sa.Text(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("tz_offset_min", sa.Integer(), nullable=True),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint(
            "user_id", "source", "external_id", name="uq_records_user_id_source_external_id"
        ),
        sa.CheckConstraint(f"kind IN ({KINDS})", name="ck_records_kind"),
        sa.CheckConstraint(f"source IN ({SOURCES})", name="ck_records_source"),
        sa.CheckConstraint(
            "kind <> 'workout' OR (sport IS NOT NULL AND duration_s IS NOT NULL)",
            name="ck_records_workout_fields",
        ),
        sa.CheckConstraint(
            "duration_s IS NULL OR duration_s > 0", name="ck_records_duration_positive"
        ),
        sa.CheckConstraint(
            "end_at IS NULL OR end_at > start_at", name="ck_records_end_after_start"
        ),
        sa.CheckConstraint("tz_offset_min BETWEEN -720 AND 840", name="ck_records_tz_offset"),
        sa.CheckConstraint("revision >= 1", name="ck_records_revision"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_records_user_start", "records", ["user_id", "start_at", "id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_records_user_start", table_name="records", schema=SCHEMA)
    op.drop_table("records", schema=SCHEMA)
