"""Timeline: source records (last-writer-wins per record) and canonical workouts.

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

SCHEMA = "dedup"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_records",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("origin_device", sa.Text(), nullable=True),
        sa.Column("sport", sa.Text(), nullable=True),
        sa.Column("start_at", TS, nullable=True),
        sa.Column("end_at", TS, nullable=True),
        sa.Column("span_end_at", TS, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("tz_offset_min", sa.Integer(), nullable=True),
        sa.Column("metrics", JSONB(), nullable=True),
        sa.Column("removed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_revision", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_event_at", TS, nullable=False),
        sa.Column("last_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("canonical_id", UUID(as_uuid=True), nullable=True),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("duplicate_of", UUID(as_uuid=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_source_records"),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            [f"{SCHEMA}.source_records.id"],
            name="fk_source_records_duplicate_of_source_records",
        ),
        sa.UniqueConstraint(
            "user_id",
            "source",
            "external_id",
            name="uq_source_records_user_source_external_id",
        ),
        sa.CheckConstraint(
            "NOT is_primary OR duplicate_of IS NULL",
            name="ck_source_records_primary_not_duplicate",
        ),
        sa.CheckConstraint(
            "duplicate_of IS NULL OR duplicate_of <> id",
            name="ck_source_records_not_own_duplicate",
        ),
        sa.CheckConstraint(
            "removed OR (sport IS NOT NULL AND start_at IS NOT NULL AND span_end_at IS NOT NULL"
            " AND duration_s IS NOT NULL AND metrics IS NOT NULL)",
            name="ck_source_records_active_has_data",
        ),
        sa.CheckConstraint(
            "NOT removed OR (NOT is_primary AND duplicate_of IS NULL AND canonical_id IS NULL)",
            name="ck_source_records_removed_unlinked",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_source_records_user_span",
        "source_records",
        ["user_id", "start_at", "span_end_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_source_records_canonical_id", "source_records", ["canonical_id"], schema=SCHEMA
    )
    op.create_index(
        "ix_source_records_duplicate_of", "source_records", ["duplicate_of"], schema=SCHEMA
    )
    op.create_table(
        "canonical_workouts",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("primary_record_id", UUID(as_uuid=True), nullable=False),
        sa.Column("sport", sa.Text(), nullable=False),
        sa.Column("start_at", TS, nullable=False),
        sa.Column("end_at", TS, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("metrics", JSONB(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_canonical_workouts"),
        sa.ForeignKeyConstraint(
            ["primary_record_id"],
            [f"{SCHEMA}.source_records.id"],
            name="fk_canonical_workouts_primary_record_id_source_records",
        ),
        sa.UniqueConstraint("primary_record_id", name="uq_canonical_workouts_primary_record_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_canonical_workouts_user_start",
        "canonical_workouts",
        ["user_id", "start_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("canonical_workouts", schema=SCHEMA)
    op.drop_table("source_records", schema=SCHEMA)
