"""Whose recording a record is, and how much that recording is worth.

DESIGN.md §3: a record's priority is that of the device that recorded it, not of
the service that carried it. Providers name devices freely ("Garmin Edge 1040",
"WHOOP 4.0", "Strava iPhone App"), so the first brand word in the name decides;
a device outside the eight sources (Zwift) keeps its carrier's priority.
Copy chains (an Apple Health copy written by Strava of a Strava activity from a
Whoop) need the other records, so provenance.py follows them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final, Literal, get_args

Source = Literal["strava", "garmin", "polar", "wahoo", "whoop", "apple_health", "oura", "manual"]
SOURCES: Final[tuple[str, ...]] = get_args(Source)

DEFAULT_WORKOUT_PRIORITY: Final[Mapping[str, int]] = MappingProxyType(
    {
        "strava": 70,
        "garmin": 60,
        "polar": 50,
        "wahoo": 40,
        "whoop": 30,
        "apple_health": 20,
        "oura": 10,
        "manual": 0,
    }
)

# Brand words as they appear in device names. "connect" is the HealthKit source
# name of Garmin Connect; "iphone"/"watch" alone are Apple's own recordings.
_BRANDS: Final[Mapping[str, str]] = {
    "strava": "strava",
    "garmin": "garmin",
    "connect": "garmin",
    "polar": "polar",
    "wahoo": "wahoo",
    "whoop": "whoop",
    "oura": "oura",
    "apple": "apple_health",
    "iphone": "apple_health",
    # Strava labels hand-typed activities "manual": nobody's device recorded them.
    "manual": "manual",
}
_WORDS = re.compile(r"[a-z0-9]+")

# How a source's own device records, which decides how its records join a session
# (README §3 "segmentation follows the main recorder"): a wearable that detects
# workouts by itself starts late, stops early or stops when its battery dies, and a
# hand-typed entry has rounded times; neither is the athlete's deliberate start/stop.
AUTO_DETECTING: Final[frozenset[str]] = frozenset({"whoop", "oura"})
HAND_LOGGED: Final[frozenset[str]] = frozenset({"manual"})


@lru_cache(maxsize=4096)
def recording_source(source: str, origin_device: str | None) -> str:
    """The source whose device physically recorded the workout."""
    if origin_device:
        for word in _WORDS.findall(origin_device.casefold()):
            brand = _BRANDS.get(word)
            if brand is not None:
                return brand
    return source


# Unknown sources rank below every known one rather than failing a resolution.
UNKNOWN_PRIORITY: Final = -1


def priority_of(source: str, priorities: Mapping[str, int]) -> int:
    return priorities.get(source, UNKNOWN_PRIORITY)
