"""`connections`: one row per (user, provider), reused across reconnects.

A revoked row keeps its history (revoked_at, reason) but no token: the check
constraint makes "revoked yet still holding credentials" impossible. At most
one non-revoked row may name a provider account, so a webhook's `owner_id`
leads to exactly one Aurora user.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_ingest.db import Base

PROVIDERS = ("strava", "whoop")
STATUSES = ("active", "degraded", "revoked")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("user_id", "provider"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(
            "status <> 'revoked' OR (access_token_enc IS NULL AND refresh_token_enc IS NULL"
            " AND revoked_at IS NOT NULL)",
            name="revoked_wiped",
        ),
        Index(
            "uq_connections_provider_account",
            "provider",
            "provider_user_id",
            unique=True,
            postgresql_where=text("status <> 'revoked'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    provider_user_id: Mapped[str] = mapped_column(Text, nullable=False)
    scopes: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    access_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'active'"))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the current grant was made: a reconnect after a revocation starts it again.
    connected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
