"""Keyed login throttle, pre-published signing keys; merges the three heads.

Revision ID: 0006_keyed_throttle_next_key
Revises: 0003_sessions, 0004_accounts, 0005_grants_audit
Create Date: 2026-11-25

- `login_throttle` rows were keyed by a plain SHA-256 of the address; they are now
  keyed by an HMAC under a server secret (`server_secrets`, or the configured one).
  The old rows cannot be re-keyed (the addresses are not known) and only hold
  counters of the last window, so they are dropped: a block in force at the upgrade
  ends early, which is the price of not keeping reversible digests.
- `signing_keys.activated_at`: NULL marks the next key, published in the JWKS before
  it signs anything, so every service already knows it when rotation promotes it.
  Existing keys were active from their creation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_keyed_throttle_next_key"
down_revision: str | Sequence[str] | None = ("0003_sessions", "0004_accounts", "0005_grants_audit")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "identity"


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name="pk_server_secrets"),
        schema=SCHEMA,
    )
    op.execute(f"TRUNCATE {SCHEMA}.login_throttle")
    op.add_column(
        "signing_keys",
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.execute(f"UPDATE {SCHEMA}.signing_keys SET activated_at = created_at")


def downgrade() -> None:
    # Next keys never signed anything; without the column they would read as active.
    op.execute(f"DELETE FROM {SCHEMA}.signing_keys WHERE activated_at IS NULL")
    op.drop_column("signing_keys", "activated_at", schema=SCHEMA)
    # The old unkeyed digests cannot be recomputed from the keyed ones.
    op.execute(f"TRUNCATE {SCHEMA}.login_throttle")
    op.drop_table("server_secrets", schema=SCHEMA)
