"""Health: source sleep/recovery/daily records and the elected daily views.

Revision ID: 0004_health
Revises: 0003_accounts
Create Date: 2026-11-22
"""

from collections.abc import Sequence

revision: str = "0004_health"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dedup"


def upgrade() -> None:
    """Stub: the health work fills this in."""


def downgrade() -> None:
    """Stub: the health work fills this in."""
