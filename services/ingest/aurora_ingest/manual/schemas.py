"""The body of POST /manual/workouts: typed, bounded, and closed to unknown fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aurora_ingest.manual.rules import MAX_DURATION_S, MIN_DURATION_S, resolve_timing, rfc3339_text
from aurora_ingest.records.rules import Sport

Rfc3339 = Annotated[AwareDatetime, BeforeValidator(rfc3339_text)]
HeartRate = Annotated[float, Field(ge=20, le=250)]
Power = Annotated[float, Field(ge=0, le=3000)]


class ManualMetrics(BaseModel):
    """Summary metrics in SI units; anything outside human physiology is a typo, not data."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    distance_m: float | None = Field(None, ge=0, le=1_000_000)
    avg_hr: HeartRate | None = None
    max_hr: HeartRate | None = None
    avg_power_w: Power | None = None
    max_power_w: Power | None = None
    energy_kj: float | None = Field(None, ge=0, le=50_000)
    ascent_m: float | None = Field(None, ge=0, le=30_000)

    @model_validator(mode="after")
    def _max_not_below_avg(self) -> ManualMetrics:
        if self.avg_hr is not None and self.max_hr is not None and self.max_hr < self.avg_hr:
            raise ValueError("max_hr is below avg_hr")
        if (
            self.avg_power_w is not None
            and self.max_power_w is not None
            and self.max_power_w < self.avg_power_w
        ):
            raise ValueError("max_power_w is below avg_power_w")
        return self

    def summary(self) -> dict[str, float]:
        return {name: float(value) for name, value in self if value is not None}


class ManualWorkoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sport: Sport
    start: Rfc3339
    end: Rfc3339 | None = None
    duration_s: float | None = Field(None, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    # The client's own id for this entry: posting it again updates instead of duplicating.
    client_ref: str | None = Field(
        None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    )
    metrics: ManualMetrics | None = None

    @model_validator(mode="after")
    def _timing(self) -> ManualWorkoutIn:
        resolve_timing(self.start, self.end, self.duration_s, now=datetime.now(UTC))
        return self


class AcceptedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: uuid.UUID
    status: Literal["accepted"] = "accepted"
