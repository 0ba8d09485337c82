"""The vocabulary of a record: kinds, sources (DESIGN.md §3) and sports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

Kind = Literal["workout", "sleep", "recovery", "daily"]
KINDS: tuple[str, ...] = get_args(Kind)

Source = Literal["strava", "garmin", "polar", "wahoo", "whoop", "apple_health", "oura", "manual"]
SOURCES: tuple[str, ...] = get_args(Source)

# Every source maps its own sport names onto this list; "other" catches the rest
# so an unknown provider sport never rejects a workout.
Sport = Literal[
    "run",
    "trail_run",
    "ride",
    "virtual_ride",
    "mountain_bike",
    "swim",
    "walk",
    "hike",
    "row",
    "strength",
    "yoga",
    "ski",
    "nordic_ski",
    "elliptical",
    "other",
]
SPORTS: tuple[str, ...] = get_args(Sport)


# Columnar per-second streams: "t" (seconds from the start) and any of SAMPLE_CHANNELS,
# every list as long as "t", None where a channel has a gap.
Samples = dict[str, list[float | None]]
SAMPLE_CHANNELS: tuple[str, ...] = (
    "hr",
    "power",
    "cadence",
    "speed",
    "distance",
    "altitude",
    "lat",
    "lng",
    "temp",
)


def samples_problem(samples: Samples) -> str | None:
    """Why a columnar sample set is malformed, or None; mappers reject rather than store it."""
    if "t" not in samples:
        return "samples have no time channel"
    length = len(samples["t"])
    for name, values in samples.items():
        if name != "t" and name not in SAMPLE_CHANNELS:
            return f"unknown sample channel {name!r}"
        if len(values) != length:
            return f"sample channel {name!r} has {len(values)} values, time has {length}"
    return None


@dataclass(frozen=True)
class WorkoutFields:
    """What any source says about one workout, already normalised (UTC, SI units).

    Equality of two values is what decides whether a re-delivery changed anything.
    """

    sport: str
    start_at: datetime
    end_at: datetime | None
    duration_s: float
    tz_offset_min: int | None
    metrics: dict[str, float]
    origin_device: str | None = None
    # Laps, splits, score state, provider labels: JSON-ready, SI units.
    details: dict[str, Any] = field(default_factory=dict)
    samples: Samples | None = None


HealthKind = Literal["sleep", "recovery", "daily"]
HEALTH_KINDS: tuple[str, ...] = get_args(HealthKind)


@dataclass(frozen=True)
class HealthFields:
    """One sleep, recovery or daily record of a source, normalised.

    `date` is the athlete's local calendar day the record belongs to: a night's
    sleep counts for the morning it ends on, which only the source knows.
    """

    kind: str
    date: dt.date
    start_at: datetime
    end_at: datetime | None
    tz_offset_min: int | None
    metrics: dict[str, float | None]
    origin_device: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
