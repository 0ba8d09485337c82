"""HKWorkoutActivityType onto Aurora's sport list (records.rules.SPORTS); the rest is "other"."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

PREFIX = "HKWorkoutActivityType"

APPLE_SPORTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Running": "run",
        "Cycling": "ride",
        "HandCycling": "ride",
        "Walking": "walk",
        "Hiking": "hike",
        "Swimming": "swim",
        "Rowing": "row",
        "PaddleSports": "row",
        "TraditionalStrengthTraining": "strength",
        "FunctionalStrengthTraining": "strength",
        "CoreTraining": "strength",
        "Yoga": "yoga",
        "DownhillSkiing": "ski",
        "Snowboarding": "ski",
        "CrossCountrySkiing": "nordic_ski",
        "Elliptical": "elliptical",
    }
)


def sport_of(activity_type: str) -> tuple[str, str]:
    """(sport, label): the label is Apple's name without its prefix, kept in details."""
    label = activity_type.removeprefix(PREFIX) or "Other"
    return APPLE_SPORTS.get(label, "other"), label
