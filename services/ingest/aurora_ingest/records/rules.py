"""The vocabulary of a record: kinds, sources (DESIGN.md §3) and sports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

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
