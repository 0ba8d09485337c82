"""Analytics' reading of dedup's timeline events; unknown fields are ignored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

TIMELINE_STREAM: Final = "dedup.timeline"
WORKOUT_RESOLVED: Final = "workout.resolved"
WORKOUT_UNRESOLVED: Final = "workout.unresolved"


class PrimaryRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    record_id: uuid.UUID
    source: str = Field(min_length=1, max_length=50)


class WorkoutResolved(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    canonical_id: uuid.UUID
    sport: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime
    duration_s: float = Field(ge=0, allow_inf_nan=False)
    metrics: dict[str, Any] = Field(default_factory=dict)
    primary: PrimaryRecord

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class WorkoutUnresolved(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    canonical_id: uuid.UUID
