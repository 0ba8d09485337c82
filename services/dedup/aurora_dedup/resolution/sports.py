"""The sport vocabulary and hierarchy of DESIGN.md §3 "Same workout".

The tree is the one of shared/fixtures/dedup/sports.json. Two sports are related
when they are equal or one is an ancestor of the other, so a generic `other`
(Whoop "Activity") can match a ride, while siblings (ride and run, the legs of a
brick) never match. `triathlon` is a composite, not a parent of its legs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

ROOT: Final = "other"

SPORT_PARENTS: Final[Mapping[str, str | None]] = {
    "other": None,
    "ride": "other",
    "gravel_ride": "ride",
    "mountain_bike_ride": "ride",
    "indoor_cycling": "ride",
    "virtual_ride": "indoor_cycling",
    "run": "other",
    "trail_run": "run",
    "treadmill_run": "run",
    "swim": "other",
    "pool_swim": "swim",
    "open_water_swim": "swim",
    "walk": "other",
    "hike": "walk",
    "strength_training": "other",
    "yoga": "other",
    "rowing": "other",
    "indoor_rowing": "rowing",
    "multisport": "other",
    "triathlon": "multisport",
}

_SEPARATORS = re.compile(r"[\s\-]+")


def normalize_sport(sport: str) -> str:
    """Ingest sends the vocabulary already; this only forgives case and separators."""
    return _SEPARATORS.sub("_", sport.strip().casefold())


@lru_cache(maxsize=256)
def lineage(sport: str) -> frozenset[str]:
    """The sport and all its ancestors. A sport outside the vocabulary hangs under the root."""
    out = {sport}
    parent = SPORT_PARENTS.get(sport, ROOT if sport != ROOT else None)
    while parent is not None:
        out.add(parent)
        parent = SPORT_PARENTS.get(parent)
    return frozenset(out)


@lru_cache(maxsize=1024)
def related(a: str, b: str) -> bool:
    return a in lineage(b) or b in lineage(a)


# A composite session (one record over several legs) versus the sports of its legs.
# README §4: `triathlon` is no parent of swim, ride or run, so the hierarchy alone
# never links it to a leg; the attach rule for spanning records uses this instead.
COMPOSITE_LEGS: Final[Mapping[str, frozenset[str]]] = {
    "triathlon": frozenset({"swim", "ride", "run"}),
    "multisport": frozenset({"swim", "ride", "run", "walk", "rowing"}),
}


def is_composite(sport: str) -> bool:
    return sport in COMPOSITE_LEGS


@lru_cache(maxsize=1024)
def composite_covers(composite: str, leg: str) -> bool:
    """Could `leg` be one leg of the composite session `composite`?"""
    legs = COMPOSITE_LEGS.get(composite)
    return legs is not None and not legs.isdisjoint(lineage(leg))


@lru_cache(maxsize=1024)
def describe_relation(a: str, b: str) -> str:
    """The words the timeline uses to say why two sports may be one session."""
    if a == b:
        return f"same sport {a}"
    parent, child = (a, b) if a in lineage(b) else (b, a)
    return f"{child} is a kind of {parent}"
