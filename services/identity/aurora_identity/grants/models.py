"""The `grants` table: one row per invitation or request, kept after it ends.

At most one open (invited, requested or active) grant per athlete-coach pair,
enforced by a partial unique index, so two racing invitations cannot both land.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base

OPEN_STATUSES_SQL = "status IN ('invited', 'requested', 'active')"


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint(
            "status IN ('invited', 'requested', 'active', 'revoked', 'declined')", name="status"
        ),
        CheckConstraint(
            "scopes <@ ARRAY['read', 'phases']::text[] AND 'read' = ANY(scopes)", name="scopes"
        ),
        CheckConstraint("athlete_id <> coach_id", name="two_people"),
        CheckConstraint("initiated_by IN (athlete_id, coach_id)", name="initiated_by_party"),
        Index(
            "uq_grants_open_pair",
            "athlete_id",
            "coach_id",
            unique=True,
            postgresql_where=text(OPEN_STATUSES_SQL),
        ),
        Index("ix_grants_coach_id", "coach_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # A purge removes the user's grants with the user; the audit log keeps the history.
    athlete_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id", ondelete="CASCADE"), nullable=False
    )
    coach_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id", ondelete="CASCADE"), nullable=False
    )
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    initiated_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set when the grant ends, by revocation or by a decline.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
