"""Apple samples lose their user_id index: they are found through their import.

A COPY of a million samples maintained two indexes; the one on user_id served
only the deletion of a superseded import's samples and erasure, which now find
the samples by import id (the remaining index's leading column) through
apple_imports.

Revision ID: 0008_apple_samples_by_import
Revises: 0007_apple_health
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_apple_samples_by_import"
down_revision: str | None = "0007_apple_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.drop_index("ix_apple_samples_user", table_name="apple_samples", schema=SCHEMA)


def downgrade() -> None:
    op.create_index("ix_apple_samples_user", "apple_samples", ["user_id"], schema=SCHEMA)
