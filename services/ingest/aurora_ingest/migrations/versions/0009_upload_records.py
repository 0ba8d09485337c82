"""Uploads count the elements they read by type (Apple Health progress and totals).

Revision ID: 0009_upload_records
Revises: 0008_apple_samples_by_import
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_upload_records"
down_revision: str | None = "0008_apple_samples_by_import"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column(
        "uploads",
        sa.Column(
            "records",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("uploads", "records", schema=SCHEMA)
