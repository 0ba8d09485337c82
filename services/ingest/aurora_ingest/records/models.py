"""The `records` table: one row per (user, source, external id), updated in place.

`revision` grows by one on every change (update, removal, revival) and rides
in every event, so a consumer that sees a record's events out of order can
keep the newest state and drop the older one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_ingest.db import Base

# The table `raw_payload_id` points at must be in the metadata wherever records are
# written: a bulk INSERT resolves every foreign key, even in a process (the Apple
# Health bench, a one-off script) that never imported the raw domain itself.
from aurora_ingest.raw import models as _raw_models  # noqa: F401
from aurora_ingest.records.rules import KINDS, SOURCES


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Record(Base):
    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("user_id", "source", "external_id"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint(
            "kind <> 'workout' OR (sport IS NOT NULL AND duration_s IS NOT NULL)",
            name="workout_fields",
        ),
        CheckConstraint("duration_s IS NULL OR duration_s > 0", name="duration_positive"),
        CheckConstraint("end_at IS NULL OR end_at > start_at", name="end_after_start"),
        CheckConstraint("tz_offset_min BETWEEN -720 AND 840", name="tz_offset"),
        CheckConstraint("revision >= 1", name="revision"),
        CheckConstraint("kind = 'workout' OR local_date IS NOT NULL", name="health_date"),
        Index("ix_records_user_start", "user_id", "start_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    # The device that recorded it, when the source only carried it; null means
    # the source recorded it itself (DESIGN.md §3: priority follows the device).
    origin_device: Mapped[str | None] = mapped_column(Text, nullable=True)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    sport: Mapped[str | None] = mapped_column(Text, nullable=True)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    tz_offset_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # Health records: the athlete's local day the record counts for.
    local_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Laps, splits, score state...: shown on the record's own page, not in lists.
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # Columnar per-second streams (records.rules.Samples); never in list responses.
    samples: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True), nullable=True)
    # The newest provider payload this record was built from.
    raw_payload_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("raw_payloads.id", ondelete="SET NULL"), nullable=True
    )
    revision: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
