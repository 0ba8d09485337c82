"""What the timeline shows of a health day, and what an export carries.

No raw payloads: a day shows its merged metrics and where each came from; the
records behind it appear as references with the reason for their role.
"""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class HealthRecordRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    kind: str
    source: str
    origin_device: str | None
    # The source whose device recorded it; it decides the priority.
    recorded_by: str
    start: datetime | None
    end: datetime | None


class HealthFieldSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    source: str
    kind: str


class HealthDecisionRef(BaseModel):
    """A record of the day that is not one of its primaries: a losing sleep or recovery, a nap."""

    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    kind: str
    source: str
    origin_device: str | None
    role: str
    reason: str


class DailyHealthItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date
    sleep: HealthRecordRef | None
    recovery: HealthRecordRef | None
    metrics: dict[str, Any]
    field_sources: dict[str, HealthFieldSource]
    duplicates: list[HealthDecisionRef]
    reason: str
    updated_at: datetime


class ExportedHealthDay(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    local_date: dt.date
    sleep_record_id: uuid.UUID | None
    recovery_record_id: uuid.UUID | None
    metrics: dict[str, Any]
    field_sources: dict[str, Any]
    reasons: dict[str, Any]
    reason: str
    updated_at: datetime


class ExportedHealthRecord(BaseModel):
    """A record as dedup placed it; a removed one keeps only its identity (tombstone)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    kind: str
    source: str
    external_id: str
    origin_device: str | None
    local_date: dt.date | None
    start_at: datetime | None
    end_at: datetime | None
    tz_offset_min: int | None
    metrics: dict[str, Any] | None
    nap: bool
    removed: bool
    role: str | None
    decision_reason: str | None
