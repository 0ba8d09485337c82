"""Tables of the timeline: one row per source record, one per canonical workout.

A source record is a last-writer-wins register keyed by ingest's record id: its
state is that of the newest event seen for it, compared by (revision,
occurred_at, event id), `revision` being ingest's per-record counter (0 when
absent). A removal turns it into a tombstone without workout data, so the final
row is the same whichever order the events arrived in, and an older ingest
arriving after the removal cannot resurrect it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_dedup.db import Base
from aurora_dedup.registers import TIMESTAMP, SourceRegister, ingest_key


class SourceRecord(SourceRegister):
    __tablename__ = "source_records"
    __table_args__ = (
        ingest_key(__tablename__),
        # DESIGN.md §3: a primary never has duplicate_of, and the database enforces it.
        CheckConstraint("NOT is_primary OR duplicate_of IS NULL", name="primary_not_duplicate"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        CheckConstraint(
            "removed OR (sport IS NOT NULL AND start_at IS NOT NULL AND span_end_at IS NOT NULL"
            " AND duration_s IS NOT NULL AND metrics IS NOT NULL)",
            name="active_has_data",
        ),
        CheckConstraint(
            "NOT removed OR (NOT is_primary AND duplicate_of IS NULL AND canonical_id IS NULL)",
            name="removed_unlinked",
        ),
        Index("ix_source_records_user_span", "user_id", "start_at", "span_end_at"),
        Index("ix_source_records_canonical_id", "canonical_id"),
        Index("ix_source_records_duplicate_of", "duplicate_of"),
    )

    # Identity, times, version and tombstone: registers.SourceRegister.
    sport: Mapped[str | None] = mapped_column(Text)
    # start + duration when the source gives no end; what overlap and windows use.
    span_end_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    duration_s: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    canonical_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dedup.source_records.id")
    )


class CanonicalWorkout(Base):
    """One session as the timeline shows it; its id is derived from its primary record."""

    __tablename__ = "canonical_workouts"
    __table_args__ = (Index("ix_canonical_workouts_user_start", "user_id", "start_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    primary_record_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dedup.source_records.id"), unique=True
    )
    sport: Mapped[str] = mapped_column(Text)
    start_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    end_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    duration_s: Mapped[float] = mapped_column(Float)
    # The filled-in metrics: the primary's, with gaps filled from its duplicates.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # {field: {"record_id", "source"}}: which record each metric came from.
    field_sources: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    reason: Mapped[str] = mapped_column(Text)
    # sha256 of the published payload: an unchanged group emits no event.
    fingerprint: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMP)
