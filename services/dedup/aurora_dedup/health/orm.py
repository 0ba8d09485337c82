"""Tables of health: one row per source record, one per elected user day.

A health record is a last-writer-wins register keyed by ingest's record id, like
a workout's source record: its state is that of the newest event seen for it,
compared by (revision, occurred_at, event id). A removal leaves a tombstone
without health data, so a late, older ingest cannot bring the record back and
the final rows do not depend on arrival order.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Text, false
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from aurora_dedup.db import Base
from aurora_dedup.registers import TIMESTAMP, SourceRegister, ingest_key


class HealthRecord(SourceRegister):
    __tablename__ = "health_records"
    __table_args__ = (
        ingest_key(__tablename__),
        CheckConstraint("kind IN ('sleep', 'recovery', 'daily')", name="kind"),
        CheckConstraint(
            "role IS NULL OR role IN ('primary', 'duplicate', 'nap', 'daily')", name="role"
        ),
        # DESIGN.md §3: a nap is never the day's sleep; only a sleep can be a nap.
        CheckConstraint(
            "NOT nap OR (kind = 'sleep' AND role IS DISTINCT FROM 'primary')", name="nap"
        ),
        # A daily record is never elected, and only daily records merely contribute.
        CheckConstraint("role IS NULL OR ((role = 'daily') = (kind = 'daily'))", name="daily_role"),
        CheckConstraint(
            "removed OR (local_date IS NOT NULL AND start_at IS NOT NULL AND metrics IS NOT NULL"
            " AND role IS NOT NULL AND decision_reason IS NOT NULL)",
            name="active_has_data",
        ),
        # A tombstone keeps only its identity and version.
        CheckConstraint(
            "NOT removed OR (local_date IS NULL AND start_at IS NULL AND metrics IS NULL"
            " AND role IS NULL AND NOT nap)",
            name="removed_has_no_data",
        ),
        CheckConstraint("end_at IS NULL OR end_at >= start_at", name="ordered"),
        CheckConstraint("last_revision >= 0", name="revision"),
        Index("ix_health_records_user_date", "user_id", "local_date"),
    )

    # Identity, times, version and tombstone: registers.SourceRegister.
    kind: Mapped[str] = mapped_column(Text)
    local_date: Mapped[date | None] = mapped_column(Date)
    # None is SQL NULL, not JSON null: a tombstone's CHECK asks for NULL.
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    nap: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last election's verdict on this record (null on a tombstone).
    role: Mapped[str | None] = mapped_column(Text)


class HealthDay(Base):
    """One user's elected day: the primaries, the merged metrics and where each came from."""

    __tablename__ = "health_days"
    __table_args__ = (
        CheckConstraint(
            "sleep_record_id IS NULL OR recovery_record_id IS NULL"
            " OR sleep_record_id <> recovery_record_id",
            name="distinct_primaries",
        ),
        CheckConstraint(
            "jsonb_typeof(metrics) = 'object' AND jsonb_typeof(field_sources) = 'object'"
            " AND jsonb_typeof(reasons) = 'object'",
            name="json_objects",
        ),
        Index("ix_health_days_sleep_record_id", "sleep_record_id"),
        Index("ix_health_days_recovery_record_id", "recovery_record_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    sleep_record_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dedup.health_records.id")
    )
    recovery_record_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dedup.health_records.id")
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # {field: {record_id, source, kind}}: which record each merged field came from.
    field_sources: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # {"sleep": str|null, "recovery": str|null, "records": [{record_id, kind, ..., role, reason}]}
    reasons: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    # sha256 of the published payload: an unchanged day emits no event.
    fingerprint: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMP)
