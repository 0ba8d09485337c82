"""WHOOP API v2 payloads as we accept them (checklist 45: never trust a provider's shape).

Only what the mapping reads is declared; unknown fields are ignored so an
additive change at WHOOP never breaks a sync. Numbers are finite and
durations non-negative; anything else fails validation and the job fails
with a clear error instead of storing nonsense. `score_state` stays a plain
string: a state WHOOP adds later is treated as "not scored", not as an error.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

SCORED = "SCORED"
PENDING_SCORE = "PENDING_SCORE"
UNSCORABLE = "UNSCORABLE"

Millis = Annotated[float, Field(ge=0)]
Percent = Annotated[float, Field(ge=0, le=100)]
HeartRate = Annotated[float, Field(ge=0, le=300)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class ZoneDurations(_Payload):
    zone_zero_milli: Millis | None = None
    zone_one_milli: Millis | None = None
    zone_two_milli: Millis | None = None
    zone_three_milli: Millis | None = None
    zone_four_milli: Millis | None = None
    zone_five_milli: Millis | None = None


class WorkoutScore(_Payload):
    strain: Annotated[float, Field(ge=0, le=21)] | None = None
    average_heart_rate: HeartRate | None = None
    max_heart_rate: HeartRate | None = None
    kilojoule: Annotated[float, Field(ge=0)] | None = None
    percent_recorded: Percent | None = None
    distance_meter: Annotated[float, Field(ge=0)] | None = None
    altitude_gain_meter: float | None = None
    altitude_change_meter: float | None = None
    zone_durations: ZoneDurations | None = None


class Workout(_Payload):
    id: uuid.UUID
    v1_id: int | None = None
    user_id: int
    start: datetime
    end: datetime
    timezone_offset: str | None = None
    sport_name: str | None = Field(None, max_length=100)
    # Deprecated by WHOOP (gone after 2025-09-01) but still a fallback when no name comes.
    sport_id: int | None = None
    score_state: str = Field(max_length=40)
    score: WorkoutScore | None = None


class StageSummary(_Payload):
    total_in_bed_time_milli: Millis | None = None
    total_awake_time_milli: Millis | None = None
    total_no_data_time_milli: Millis | None = None
    total_light_sleep_time_milli: Millis | None = None
    total_slow_wave_sleep_time_milli: Millis | None = None
    total_rem_sleep_time_milli: Millis | None = None
    sleep_cycle_count: Annotated[int, Field(ge=0)] | None = None
    disturbance_count: Annotated[int, Field(ge=0)] | None = None


class SleepNeeded(_Payload):
    baseline_milli: Millis | None = None
    need_from_sleep_debt_milli: float | None = None
    need_from_recent_strain_milli: float | None = None
    # Negative by design: a recent nap lowers tonight's need.
    need_from_recent_nap_milli: float | None = None


class SleepScore(_Payload):
    stage_summary: StageSummary | None = None
    sleep_needed: SleepNeeded | None = None
    respiratory_rate: Annotated[float, Field(ge=0, le=100)] | None = None
    sleep_performance_percentage: Percent | None = None
    sleep_consistency_percentage: Percent | None = None
    sleep_efficiency_percentage: Percent | None = None


class Sleep(_Payload):
    id: uuid.UUID
    cycle_id: int | None = None
    v1_id: int | None = None
    user_id: int
    start: datetime
    end: datetime | None = None
    timezone_offset: str | None = None
    nap: bool = False
    score_state: str = Field(max_length=40)
    score: SleepScore | None = None


class RecoveryScore(_Payload):
    user_calibrating: bool | None = None
    recovery_score: Percent | None = None
    resting_heart_rate: HeartRate | None = None
    hrv_rmssd_milli: Annotated[float, Field(ge=0)] | None = None
    spo2_percentage: Percent | None = None
    skin_temp_celsius: Annotated[float, Field(ge=0, le=50)] | None = None


class Recovery(_Payload):
    cycle_id: int
    sleep_id: uuid.UUID
    user_id: int
    score_state: str = Field(max_length=40)
    score: RecoveryScore | None = None


class CycleScore(_Payload):
    strain: Annotated[float, Field(ge=0, le=21)] | None = None
    kilojoule: Annotated[float, Field(ge=0)] | None = None
    average_heart_rate: HeartRate | None = None
    max_heart_rate: HeartRate | None = None


class Cycle(_Payload):
    id: int
    user_id: int
    start: datetime
    # Absent or null while the athlete is still in this cycle.
    end: datetime | None = None
    timezone_offset: str | None = None
    score_state: str = Field(max_length=40)
    score: CycleScore | None = None


class Page(_Payload):
    """One page of a collection; records are validated one by one by the caller."""

    records: list[Any] = Field(default_factory=list)
    next_token: str | None = Field(None, max_length=2048)


class WebhookEvent(_Payload):
    """A v2 webhook: `id` is the workout's or sleep's UUID (for recovery.*, its sleep's)."""

    user_id: int
    id: uuid.UUID | int
    type: str = Field(max_length=40)
    trace_id: str = Field(min_length=1, max_length=200)
