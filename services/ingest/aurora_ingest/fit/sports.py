"""FIT `sport`/`sub_sport` enums onto Aurora's sport list (records.rules.SPORTS).

The sub-sport decides first because it is the finer word (cycling/mountain is a
mountain-bike ride, fitness_equipment/indoor_rowing a row); the sport decides
otherwise. The same rule as Strava's table applies: a FIT label goes to the
nearest Aurora sport only when another device recording the same session would
plausibly land there too, so dedup can pair them; the rest is "other", with the
FIT labels kept in the workout's details.

Transitions (triathlon T1/T2) are "other": records.rules has no transition
sport, and dedup's hierarchy puts "other" at the root, so a transition pairs
with nothing but another "other". The normaliser flags them in details.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from aurora_ingest.records.rules import SPORTS

BY_SUB_SPORT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "trail": "trail_run",  # only meaningful under running; see aurora_sport
        "mountain": "mountain_bike",
        "downhill": "mountain_bike",
        "e_bike_mountain": "mountain_bike",
        "virtual_activity": "",  # depends on the sport: virtual ride or (treadmill) run
        "indoor_rowing": "row",
        "elliptical": "elliptical",
        "strength_training": "strength",
        "yoga": "yoga",
        "lap_swimming": "swim",
        "open_water": "swim",
        "skate_skiing": "nordic_ski",
        "indoor_walking": "walk",
        "casual_walking": "walk",
        "speed_walking": "walk",
    }
)

BY_SPORT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "running": "run",
        "cycling": "ride",
        "e_biking": "ride",
        "swimming": "swim",
        "walking": "walk",
        "hiking": "hike",
        "mountaineering": "hike",
        "snowshoeing": "hike",
        "rowing": "row",
        "alpine_skiing": "ski",
        "snowboarding": "ski",
        "cross_country_skiing": "nordic_ski",
        "fitness_equipment": "other",
        "training": "other",
        "transition": "other",
        "generic": "other",
        "multisport": "other",
    }
)

TRANSITION_SUB_SPORTS: Final[frozenset[str]] = frozenset(
    {"bike_to_run_transition", "run_to_bike_transition", "swim_to_bike_transition"}
)

assert set(BY_SPORT.values()) <= set(SPORTS)
assert {v for v in BY_SUB_SPORT.values() if v} <= set(SPORTS)


def _label(value: object) -> str | None:
    """Enum names as the decoder gives them; an unknown enum arrives as its number."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def labels(sport: object, sub_sport: object) -> tuple[str | None, str | None]:
    return _label(sport), _label(sub_sport)


def is_transition(sport: str | None, sub_sport: str | None) -> bool:
    return sport == "transition" or sub_sport in TRANSITION_SUB_SPORTS


def aurora_sport(sport: str | None, sub_sport: str | None) -> str:
    """Unknown or missing labels are "other": a new FIT sport must never reject a workout."""
    if is_transition(sport, sub_sport):
        return "other"
    if sub_sport == "virtual_activity":
        return (
            "virtual_ride"
            if sport in ("cycling", "e_biking")
            else BY_SPORT.get(sport or "", "other")
        )
    if sub_sport == "trail":
        return "trail_run" if sport == "running" else BY_SPORT.get(sport or "", "other")
    by_sub = BY_SUB_SPORT.get(sub_sport or "")
    if by_sub:
        return by_sub
    return BY_SPORT.get(sport or "", "other")
