"""What `/analytics/workouts` answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WorkoutItem(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True, populate_by_name=True)

    canonical_id: uuid.UUID
    sport: str
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    duration_s: float
    metrics: dict[str, Any]
    primary_source: str
    updated_at: datetime


class WorkoutPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[WorkoutItem]
