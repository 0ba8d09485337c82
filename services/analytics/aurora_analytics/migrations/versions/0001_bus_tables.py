"""Event bus tables: outbox, inbox and bus state.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from aurora_shared.bus.tables import create_bus_tables, drop_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "analytics"


def upgrade() -> None:
    create_bus_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    drop_bus_tables(op.get_bind(), SCHEMA)
