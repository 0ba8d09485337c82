"""`provider_jobs`: the durable queue of provider work (fetches, deletions, backfills).

A webhook writes its job in the request's own transaction, so an acknowledged
event can never be lost; the partial unique index makes a pending
(provider, kind, key) exist once, so a flood of events for one activity
coalesces into one fetch. A job already running may have one pending twin:
the event that arrived mid-fetch must still be fetched after it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_ingest.db import Base

JOB_STATES = ("pending", "running", "done", "failed", "cancelled")


class ProviderJob(Base):
    __tablename__ = "provider_jobs"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in JOB_STATES)})", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "uq_provider_jobs_pending",
            "provider",
            "kind",
            "key",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_provider_jobs_due",
            "not_before",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_provider_jobs_connection", "connection_id"),
        Index("ix_provider_jobs_user", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    key: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    connection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    not_before: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
