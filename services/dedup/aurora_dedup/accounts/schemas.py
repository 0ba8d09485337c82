"""Dedup's part of a user's export: the resolved timeline and every decision behind it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ExportedWorkout(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    sport: str
    start_at: datetime
    end_at: datetime
    duration_s: float
    metrics: dict[str, Any]
    primary_record_id: uuid.UUID
    reason: str
    updated_at: datetime


class ExportedSourceRecord(BaseModel):
    """A record as dedup placed it; a removed one keeps only its identity (tombstone)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: uuid.UUID
    source: str
    external_id: str
    origin_device: str | None
    sport: str | None
    start_at: datetime | None
    end_at: datetime | None
    duration_s: float | None
    tz_offset_min: int | None
    metrics: dict[str, Any] | None
    removed: bool
    canonical_id: uuid.UUID | None
    is_primary: bool
    duplicate_of: uuid.UUID | None
    decision_reason: str | None
