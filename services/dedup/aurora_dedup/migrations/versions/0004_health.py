"""Health: source sleep/recovery/daily records and the elected daily views.

Revision ID: 0004_health
Revises: 0003_accounts
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0004_health"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dedup"
TS = sa.DateTime(timezone=True)
# CHECK names are short: the metadata's naming convention prefixes "ck_<table>_".


def upgrade() -> None:
    op.create_table(
        "health_records",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("origin_device", sa.Text(), nullable=True),
        sa.Column("local_date", sa.Date(), nullable=True),
        sa.Column("start_at", TS, nullable=True),
        sa.Column("end_at", TS, nullable=True),
        sa.Column("tz_offset_min", sa.Integer(), nullable=True),
        sa.Column("metrics", JSONB(), nullable=True),
        sa.Column("nap", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("removed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_revision", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_event_at", TS, nullable=False),
        sa.Column("last_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_health_records"),
        sa.UniqueConstraint(
            "user_id", "source", "external_id", name="uq_health_records_user_source_external_id"
        ),
        sa.CheckConstraint("kind IN ('sleep', 'recovery', 'daily')", name="kind"),
        sa.CheckConstraint(
            "role IS NULL OR role IN ('primary', 'duplicate', 'nap', 'daily')",
            name="role",
        ),
        sa.CheckConstraint(
            "NOT nap OR (kind = 'sleep' AND role IS DISTINCT FROM 'primary')",
            name="nap",
        ),
        sa.CheckConstraint(
            "role IS NULL OR ((role = 'daily') = (kind = 'daily'))",
            name="daily_role",
        ),
        sa.CheckConstraint(
            "removed OR (local_date IS NOT NULL AND start_at IS NOT NULL AND metrics IS NOT NULL"
            " AND role IS NOT NULL AND decision_reason IS NOT NULL)",
            name="active_has_data",
        ),
        sa.CheckConstraint(
            "NOT removed OR (local_date IS NULL AND start_at IS NULL AND metrics IS NULL"
            " AND role IS NULL AND NOT nap)",
            name="removed_has_no_data",
        ),
        sa.CheckConstraint("end_at IS NULL OR end_at >= start_at", name="ordered"),
        sa.CheckConstraint("last_revision >= 0", name="revision"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_health_records_user_date", "health_records", ["user_id", "local_date"], schema=SCHEMA
    )
    op.create_table(
        "health_days",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("sleep_record_id", UUID(as_uuid=True), nullable=True),
        sa.Column("recovery_record_id", UUID(as_uuid=True), nullable=True),
        sa.Column("metrics", JSONB(), nullable=False),
        sa.Column("field_sources", JSONB(), nullable=False),
        sa.Column("reasons", JSONB(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "local_date", name="pk_health_days"),
        sa.ForeignKeyConstraint(
            ["sleep_record_id"],
            [f"{SCHEMA}.health_records.id"],
            name="fk_health_days_sleep_record_id_health_records",
        ),
        sa.ForeignKeyConstraint(
            ["recovery_record_id"],
            [f"{SCHEMA}.health_records.id"],
            name="fk_health_days_recovery_record_id_health_records",
        ),
        sa.CheckConstraint(
            "sleep_record_id IS NULL OR recovery_record_id IS NULL"
            " OR sleep_record_id <> recovery_record_id",
            name="distinct_primaries",
        ),
        sa.CheckConstraint(
            "jsonb_typeof(metrics) = 'object' AND jsonb_typeof(field_sources) = 'object'"
            " AND jsonb_typeof(reasons) = 'object'",
            name="json_objects",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_health_days_sleep_record_id", "health_days", ["sleep_record_id"], schema=SCHEMA
    )
    op.create_index(
        "ix_health_days_recovery_record_id", "health_days", ["recovery_record_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("health_days", schema=SCHEMA)
    op.drop_table("health_records", schema=SCHEMA)
