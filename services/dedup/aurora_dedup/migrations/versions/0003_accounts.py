"""Accounts: the mirror of identity's decisions (blocked users, erasure log, coach grants).

Revision ID: 0003_accounts
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

from aurora_shared.accounts import create_account_tables, drop_account_tables

revision: str = "0003_accounts"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "dedup"


def upgrade() -> None:
    create_account_tables(op.get_bind(), SCHEMA)


def downgrade() -> None:
    drop_account_tables(op.get_bind(), SCHEMA)
