"""What the timeline API answers: canonical workouts with the reasons behind them.

Lists carry what a timeline row shows; the detail adds each record's own facts
and its overlap with the primary. Neither returns raw payloads or samples.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from aurora_dedup.health.schemas import DailyHealthItem


class FieldSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    source: str


class PrimaryRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    source: str
    origin_device: str | None
    # The source whose device recorded the workout; it decides the priority.
    recorded_by: str


class DuplicateRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    source: str
    origin_device: str | None
    reason: str


class CanonicalFields(BaseModel):
    """What a list row and a workout's detail both show of a canonical workout."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    sport: str
    start: datetime
    # The primary's end, or start + duration when its source gives none.
    end: datetime
    duration_s: float
    # The primary's metrics, with gaps filled from its duplicates (see field_sources).
    metrics: dict[str, Any]
    field_sources: dict[str, FieldSource]


class TimelineItem(CanonicalFields):
    primary: PrimaryRef
    duplicates: list[DuplicateRef]
    reason: str
    updated_at: datetime


class TimelinePage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Canonical workouts, newest first.
    items: list[TimelineItem]
    # The elected sleep/recovery view of each day in the page's span, newest first
    # (none when the page is filtered by sport).
    days: list[DailyHealthItem]
    # Pass as `cursor` for the next (older) page; null on the last page.
    next_cursor: str | None


class Overlap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float
    # Of the longer record's span, as the same-session rule measures it.
    fraction: float


class RecordFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    source: str
    external_id: str
    origin_device: str | None
    recorded_by: str
    sport: str
    start: datetime
    end: datetime | None
    duration_s: float
    tz_offset_min: int | None


class DuplicateDetail(RecordFacts):
    reason: str
    overlap: Overlap


class WorkoutDetail(CanonicalFields):
    """One canonical workout and everything that explains it."""

    primary: RecordFacts
    duplicates: list[DuplicateDetail]
    # Why the primary is primary.
    reason: str
    # The primary's reason, then each duplicate's, in the order shown.
    explanation: list[str]
    # The athlete's links that name a record of this workout, newest first.
    link_ids: list[uuid.UUID]
    updated_at: datetime
