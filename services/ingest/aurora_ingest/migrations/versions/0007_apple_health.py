"""Apple Health imports and their samples (heart rate and vitals, loaded with COPY).

Revision ID: 0007_apple_health
Revises: 0006_uploads
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_apple_health"
down_revision: str | None = "0006_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "apple_imports",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("upload_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("bytes_parsed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "summary",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_apple_imports"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_apple_imports_user", "apple_imports", ["user_id", "created_at"], schema=SCHEMA
    )
    op.create_table(
        "apple_samples",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("import_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_apple_samples_import_kind_start",
        "apple_samples",
        ["import_id", "kind", "start_at"],
        schema=SCHEMA,
    )
    op.create_index("ix_apple_samples_user", "apple_samples", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_apple_samples_user", table_name="apple_samples", schema=SCHEMA)
    op.drop_index("ix_apple_samples_import_kind_start", table_name="apple_samples", schema=SCHEMA)
    op.drop_table("apple_samples", schema=SCHEMA)
    op.drop_index("ix_apple_imports_user", table_name="apple_imports", schema=SCHEMA)
    op.drop_table("apple_imports", schema=SCHEMA)
