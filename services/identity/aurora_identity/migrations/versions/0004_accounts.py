"""Accounts: profile columns, login throttling, export requests.

Revision ID: 0004_accounts
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_accounts"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"


def upgrade() -> None:
    op.add_column("users", sa.Column("birth_date", sa.Date(), nullable=True), schema=SCHEMA)
    op.add_column("users", sa.Column("sex", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("users", sa.Column("time_zone", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column(
        "users",
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "users",
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "ck_users_sex", "users", "sex IN ('female', 'male', 'other')", schema=SCHEMA
    )
    op.create_index(
        "ix_users_deleted_at",
        "users",
        ["deleted_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_table(
        "login_throttle",
        sa.Column("email_key", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("email_key", name="pk_login_throttle"),
        schema=SCHEMA,
    )
    op.create_table(
        "export_requests",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_export_requests"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("export_requests", schema=SCHEMA)
    op.drop_table("login_throttle", schema=SCHEMA)
    op.drop_index("ix_users_deleted_at", table_name="users", schema=SCHEMA)
    op.drop_constraint("ck_users_sex", "users", type_="check", schema=SCHEMA)
    for column in ("password_changed_at", "deactivated_at", "time_zone", "sex", "birth_date"):
        op.drop_column("users", column, schema=SCHEMA)
