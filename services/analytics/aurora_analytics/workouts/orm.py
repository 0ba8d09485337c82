"""Analytics' copy of dedup's canonical workouts.

Each row is a last-writer-wins register keyed by canonical id. A canonical that
dedup withdraws keeps a tombstone (removed, without workout data) instead of
being deleted: events of one canonical can be redelivered out of order, and a
deleted row would let a late, older `workout.resolved` bring it back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, Index, Text, false
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_analytics.db import Base

_TS = DateTime(timezone=True)


class Workout(Base):
    __tablename__ = "workouts"
    __table_args__ = (
        CheckConstraint(
            "removed OR (sport IS NOT NULL AND start_at IS NOT NULL AND end_at IS NOT NULL"
            " AND duration_s IS NOT NULL AND metrics IS NOT NULL AND primary_source IS NOT NULL)",
            name="live_has_data",
        ),
        Index("ix_workouts_user_start", "user_id", "start_at"),
    )

    canonical_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    sport: Mapped[str | None] = mapped_column(Text)
    start_at: Mapped[datetime | None] = mapped_column(_TS)
    end_at: Mapped[datetime | None] = mapped_column(_TS)
    duration_s: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    primary_source: Mapped[str | None] = mapped_column(Text)
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(_TS)
    last_event_at: Mapped[datetime] = mapped_column(_TS)
    last_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
