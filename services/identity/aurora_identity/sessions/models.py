"""`refresh_tokens` (one row per issued refresh token) and `revocations` (the truth
behind the Redis revocation cache every service reads)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base


class RefreshToken(Base):
    """A family is one login: every rotation adds a row with the same `family_id`, which
    access tokens carry as `sid`. Only the SHA-256 of the opaque token is stored."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        CheckConstraint("(revoked_at IS NULL) = (revoke_reason IS NULL)", name="revoke_reason"),
        CheckConstraint("octet_length(token_hash) = 32", name="sha256"),
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
        Index("ix_refresh_tokens_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # CASCADE: purging an account erases its sessions with it.
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    # Lineage only, no foreign key: pruning an expired parent must not touch its child.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Revocation(Base):
    """kind 'sid': a logged-out or compromised family; kind 'user': every token of the
    user issued at or before `cutoff`. Rows past `expires_at` protect nothing (no access
    token lives that long) and are pruned."""

    __tablename__ = "revocations"
    __table_args__ = (
        CheckConstraint("kind IN ('sid', 'user')", name="kind"),
        CheckConstraint("(kind = 'user') = (cutoff IS NOT NULL)", name="user_cutoff"),
        Index("ix_revocations_expires_at", "expires_at"),
    )

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    cutoff: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
