"""The sport hierarchy and the recording-device priority."""

from __future__ import annotations

import pytest

from aurora_dedup.resolution.priority import DEFAULT_WORKOUT_PRIORITY, SOURCES, recording_source
from aurora_dedup.resolution.sports import (
    composite_covers,
    describe_relation,
    is_composite,
    lineage,
    normalize_sport,
    related,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("ride", "ride", True),
        ("ride", "gravel_ride", True),
        ("virtual_ride", "ride", True),  # grandchild: any ancestor counts
        ("other", "trail_run", True),  # the root matches everything
        ("gravel_ride", "mountain_bike_ride", False),  # siblings
        ("ride", "run", False),  # a brick's legs
        ("trail_run", "hike", False),
        ("triathlon", "ride", False),  # a composite is not a parent of its legs
        ("kitesurf", "other", True),  # unknown sports hang under the root
        ("kitesurf", "ride", False),
    ],
)
def test_related(a: str, b: str, expected: bool) -> None:
    assert related(a, b) is expected
    assert related(b, a) is expected


def test_lineage_and_wording() -> None:
    assert lineage("virtual_ride") == {"virtual_ride", "indoor_cycling", "ride", "other"}
    assert describe_relation("ride", "ride") == "same sport ride"
    assert describe_relation("ride", "gravel_ride") == "gravel_ride is a kind of ride"
    assert describe_relation("gravel_ride", "ride") == "gravel_ride is a kind of ride"
    assert normalize_sport(" Trail-Run ") == "trail_run"


def test_every_source_has_the_contract_priority() -> None:
    assert set(SOURCES) == set(DEFAULT_WORKOUT_PRIORITY)
    assert DEFAULT_WORKOUT_PRIORITY["strava"] == 70
    assert DEFAULT_WORKOUT_PRIORITY["garmin"] == 60
    assert DEFAULT_WORKOUT_PRIORITY["whoop"] == 30
    assert DEFAULT_WORKOUT_PRIORITY["manual"] == 0


@pytest.mark.parametrize(
    ("source", "device", "expected"),
    [
        ("strava", "Garmin Forerunner 965", "garmin"),
        ("strava", "garmin", "garmin"),
        ("strava", "WHOOP", "whoop"),
        ("whoop", "WHOOP 4.0", "whoop"),
        ("strava", "Wahoo ELEMNT BOLT", "wahoo"),
        ("strava", "Strava iPhone App", "strava"),  # the brand word comes before "iPhone"
        ("apple_health", "Apple Watch", "apple_health"),
        ("apple_health", "iPhone", "apple_health"),
        ("apple_health", "Connect", "garmin"),  # Garmin Connect's HealthKit name
        ("apple_health", "Polar Flow", "polar"),
        ("oura", "Oura Ring Gen3", "oura"),
        ("strava", "Zwift", "strava"),  # not one of the sources: the carrier's priority
        ("strava", "manual", "manual"),  # typed in by hand, ranks as a manual entry
        ("garmin", None, "garmin"),
        ("polar", "", "polar"),
    ],
)
def test_recording_source(source: str, device: str | None, expected: str) -> None:
    assert recording_source(source, device) == expected


@pytest.mark.parametrize(
    ("composite", "leg", "expected"),
    [
        ("triathlon", "open_water_swim", True),
        ("triathlon", "gravel_ride", True),
        ("triathlon", "trail_run", True),
        ("triathlon", "walk", False),
        ("triathlon", "yoga", False),
        ("multisport", "indoor_rowing", True),
        ("ride", "ride", False),  # not a composite
    ],
)
def test_composite_covers_its_legs(composite: str, leg: str, expected: bool) -> None:
    assert composite_covers(composite, leg) is expected
    assert is_composite(composite) is (composite in {"triathlon", "multisport"})
