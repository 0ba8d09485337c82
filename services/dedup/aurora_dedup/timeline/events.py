"""Events this service reads and writes, as its own models of the contract.

The inbound models are dedup's reading of ingest's payloads (DESIGN.md §2); they
ignore fields they do not know, so ingest can evolve additively without a
lock-step release. A payload that breaks the contract raises, which sends the
event to the dead-letter stream where an operator can see it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from aurora_dedup.resolution.priority import Source
from aurora_dedup.resolution.sports import normalize_sport

INGEST_STREAM: Final = "ingest.records"
WORKOUT_INGESTED: Final = "workout.ingested"
WORKOUT_REMOVED: Final = "workout.removed"
WORKOUT_RESOLVED: Final = "workout.resolved"
WORKOUT_UNRESOLVED: Final = "workout.unresolved"

MAX_DURATION_S: Final = 14 * 24 * 3600


class WorkoutIngested(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    record_id: uuid.UUID
    # Ingest's per-record counter, bumped under a row lock: it orders one record's
    # events even when producers' clocks disagree. Absent from older producers.
    revision: int = Field(0, ge=0)
    source: Source
    origin_device: str | None = Field(None, max_length=200)
    external_id: str = Field(min_length=1, max_length=200)
    sport: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime | None = None
    duration_s: float = Field(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)
    tz_offset_min: int | None = Field(None, ge=-24 * 60, le=24 * 60)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @field_validator("sport")
    @classmethod
    def _sport(cls, value: str) -> str:
        return normalize_sport(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered(self) -> WorkoutIngested:
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        return self


class WorkoutRemoved(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    record_id: uuid.UUID
    revision: int = Field(0, ge=0)
    source: Source
    external_id: str = Field(min_length=1, max_length=200)
