"""What the timeline API answers: canonical workouts with the reasons behind them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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


class TimelineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    sport: str
    start: datetime
    # The primary's end, or start + duration when its source gives none.
    end: datetime
    duration_s: float
    metrics: dict[str, Any]
    primary: PrimaryRef
    duplicates: list[DuplicateRef]
    reason: str
    updated_at: datetime


class TimelinePage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TimelineItem]
