"""Provider store: raw payloads, the provider job queue, and the richer record columns.

Revision ID: 0004_provider_store
Revises: 0003_accounts
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_provider_store"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "raw_payloads",
        sa.Column("id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("last_seen_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_raw_payloads"),
        sa.UniqueConstraint("user_id", "sha256", name="uq_raw_payloads_user_id_sha256"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_raw_payloads_user_external",
        "raw_payloads",
        ["user_id", "provider", "external_id"],
        schema=SCHEMA,
    )

    op.add_column("records", sa.Column("local_date", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column(
        "records",
        sa.Column(
            "details",
            postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema=SCHEMA,
    )
    op.add_column("records", sa.Column("samples", postgresql.JSONB(), nullable=True), schema=SCHEMA)
    op.add_column("records", sa.Column("raw_payload_id", UUID, nullable=True), schema=SCHEMA)
    op.create_foreign_key(
        "fk_records_raw_payload_id_raw_payloads",
        "records",
        "raw_payloads",
        ["raw_payload_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        "ck_records_health_date",
        "records",
        "kind = 'workout' OR local_date IS NOT NULL",
        schema=SCHEMA,
    )

    op.create_table(
        "provider_jobs",
        sa.Column("id", UUID, nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("connection_id", UUID, nullable=True),
        sa.Column(
            "payload", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("not_before", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'cancelled')",
            name="ck_provider_jobs_status",
        ),
        sa.CheckConstraint("attempts >= 0", name="ck_provider_jobs_attempts"),
        sa.PrimaryKeyConstraint("id", name="pk_provider_jobs"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_provider_jobs_pending",
        "provider_jobs",
        ["provider", "kind", "key"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_provider_jobs_due",
        "provider_jobs",
        ["not_before"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_provider_jobs_connection", "provider_jobs", ["connection_id"], schema=SCHEMA
    )
    op.create_index("ix_provider_jobs_user", "provider_jobs", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("provider_jobs", schema=SCHEMA)
    op.drop_constraint("ck_records_health_date", "records", schema=SCHEMA)
    op.drop_constraint("fk_records_raw_payload_id_raw_payloads", "records", schema=SCHEMA)
    for column in ("raw_payload_id", "samples", "details", "local_date"):
        op.drop_column("records", column, schema=SCHEMA)
    op.drop_index("ix_raw_payloads_user_external", "raw_payloads", schema=SCHEMA)
    op.drop_table("raw_payloads", schema=SCHEMA)
