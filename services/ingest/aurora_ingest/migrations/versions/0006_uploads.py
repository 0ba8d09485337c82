"""Uploads: activity files sent by users, their progress and per-file results.

Revision ID: 0006_uploads
Revises: 0005_connections
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_uploads"
down_revision: str | None = "0005_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)

# Frozen here: a new state or result is a later migration.
STATES = "'queued', 'processing', 'done', 'failed', 'cancelled'"
RESULTS = "'imported', 'duplicate', 'rejected', 'skipped'"


def _count(name: str, type_: sa.types.TypeEngine[int] | None = None) -> sa.Column[int]:
    return sa.Column(name, type_ or sa.Integer(), server_default=sa.text("0"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("container", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("stored_as", sa.Text(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _count("files_total"),
        _count("files_done"),
        _count("bytes_total", sa.BigInteger()),
        _count("bytes_done", sa.BigInteger()),
        _count("workouts"),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
        sa.CheckConstraint(f"status IN ({STATES})", name="ck_uploads_status"),
        sa.CheckConstraint(
            "files_done >= 0 AND files_done <= files_total AND bytes_done >= 0",
            name="ck_uploads_progress",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_uploads_user_created", "uploads", ["user_id", "created_at", "id"], schema=SCHEMA
    )
    op.create_table(
        "upload_files",
        sa.Column("upload_id", UUID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "record_ids", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "position", name="pk_upload_files"),
        sa.CheckConstraint(f"result IN ({RESULTS})", name="ck_upload_files_result"),
        schema=SCHEMA,
    )
    op.create_index("ix_ingest_upload_files_user_id", "upload_files", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_ingest_upload_files_user_id", table_name="upload_files", schema=SCHEMA)
    op.drop_table("upload_files", schema=SCHEMA)
    op.drop_index("ix_uploads_user_created", table_name="uploads", schema=SCHEMA)
    op.drop_table("uploads", schema=SCHEMA)
