"""Strava's sport labels onto Aurora's sport list (records.rules.SPORTS).

Strava has two vocabularies: the legacy `type` (ActivityType) and the finer
`sport_type` (SportType) that replaced it, e.g. "MountainBikeRide" where `type`
only says "Ride". Both are looked up in one table because every ActivityType
value is also a SportType value with the same meaning.

Where Aurora has no sport of its own, the nearest family is chosen only when a
duplicate recording of the same session by another device would plausibly be
classified there too (an e-bike ride is "ride" on a Garmin as well); otherwise
the sport is "other" and the Strava label stays in details["provider_sport"].
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from aurora_ingest.records.rules import SPORTS

STRAVA_SPORTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        # foot
        "Run": "run",
        "TrailRun": "trail_run",
        "VirtualRun": "run",
        "Walk": "walk",
        "Hike": "hike",
        "Snowshoe": "hike",
        "Wheelchair": "other",
        # cycle
        "Ride": "ride",
        "GravelRide": "ride",
        "EBikeRide": "ride",
        "Velomobile": "ride",
        "Handcycle": "ride",
        "MountainBikeRide": "mountain_bike",
        "EMountainBikeRide": "mountain_bike",
        "VirtualRide": "virtual_ride",
        # water
        "Swim": "swim",
        "Rowing": "row",
        "VirtualRow": "row",
        "Canoeing": "other",
        "Kayaking": "other",
        "StandUpPaddling": "other",
        "Surfing": "other",
        "Kitesurf": "other",
        "Windsurf": "other",
        "Sail": "other",
        # snow and ice
        "AlpineSki": "ski",
        "BackcountrySki": "ski",
        "Snowboard": "ski",
        "NordicSki": "nordic_ski",
        "RollerSki": "nordic_ski",
        "IceSkate": "other",
        "InlineSkate": "other",
        "Skateboard": "other",
        # gym
        "WeightTraining": "strength",
        "Crossfit": "strength",
        "HighIntensityIntervalTraining": "other",
        "Workout": "other",
        "Elliptical": "elliptical",
        "StairStepper": "other",
        "Yoga": "yoga",
        "Pilates": "other",
        "RockClimbing": "other",
        # ball and racket sports, everything else
        "Soccer": "other",
        "Golf": "other",
        "Tennis": "other",
        "TableTennis": "other",
        "Badminton": "other",
        "Squash": "other",
        "Racquetball": "other",
        "Pickleball": "other",
        "Padel": "other",
        "Basketball": "other",
        "Volleyball": "other",
        "Cricket": "other",
        "Dance": "other",
    }
)

# The table may only name sports the records table accepts.
assert set(STRAVA_SPORTS.values()) <= set(SPORTS)


def aurora_sport(label: str | None) -> str:
    """Unknown or missing labels are "other": a new Strava sport must never reject a workout."""
    if label is None:
        return "other"
    return STRAVA_SPORTS.get(label, "other")
