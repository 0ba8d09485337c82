"""strava.mapping: DetailedActivity (+ laps, streams) and SummaryActivity, exhaustively."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_ingest.records.rules import SPORTS
from aurora_ingest.strava.errors import MappingError
from aurora_ingest.strava.mapping import (
    athlete_id,
    fingerprint,
    origin_device,
    summary_of,
    tz_offset_minutes,
    workout_fields,
)
from aurora_ingest.strava.sports import STRAVA_SPORTS, aurora_sport

Factory = Any


def test_detailed_activity_maps_every_summary_field(make_activity: Factory) -> None:
    fields = workout_fields(make_activity())
    start = datetime(2018, 2, 16, 14, 52, 54, tzinfo=UTC)
    assert fields.sport == "mountain_bike"
    assert fields.start_at == start
    assert fields.duration_s == 4410.0
    assert fields.end_at == start + timedelta(seconds=4410)
    assert fields.tz_offset_min == -480
    assert fields.origin_device == "Garmin Edge 530"
    assert fields.metrics == {
        "distance_m": 28099.0,
        "moving_time_s": 4207.0,
        "elapsed_time_s": 4410.0,
        "elevation_gain_m": 516.0,
        "elevation_high_m": 446.6,
        "elevation_low_m": 17.2,
        "avg_speed": 6.679,
        "max_speed": 18.5,
        "avg_hr": 140.3,
        "max_hr": 178.0,
        "avg_cadence": 78.5,
        "avg_power": 185.5,
        "weighted_avg_power": 230.0,
        "max_power": 743.0,
        "kilojoules": 780.5,
        "calories": 870.2,
        "avg_temp": 4.0,
    }
    assert all(isinstance(v, float) for v in fields.metrics.values())
    details = fields.details
    assert details["provider_sport"] == "MountainBikeRide"
    assert details["name"] == "Morning Ride"
    assert details["trainer"] is False and details["manual"] is False
    assert details["device_watts"] is True
    assert details["workout_type"] == 10
    assert details["timezone"] == "(GMT-08:00) America/Los_Angeles"
    assert details["fingerprint"] == fingerprint(make_activity())
    assert fields.samples is None


def test_only_present_metrics_are_kept(make_activity: Factory) -> None:
    activity = {
        k: v
        for k, v in make_activity().items()
        if k not in ("average_heartrate", "max_heartrate", "calories", "elev_high", "elev_low")
    }
    activity["average_temp"] = None
    activity["max_speed"] = "fast"
    activity["average_cadence"] = True
    activity["kilojoules"] = float("nan")
    metrics = workout_fields(activity).metrics
    for gone in ("avg_hr", "max_hr", "calories", "avg_temp", "max_speed", "avg_cadence"):
        assert gone not in metrics
    assert "kilojoules" not in metrics
    assert metrics["distance_m"] == 28099.0


def test_estimated_power_is_kept_out_of_the_metrics(make_activity: Factory) -> None:
    fields = workout_fields(make_activity(device_watts=False))
    assert not {"avg_power", "weighted_avg_power", "max_power", "kilojoules"} & set(fields.metrics)
    assert fields.details["estimated_power"] == {
        "avg_power": 185.5,
        "kilojoules": 780.5,
        "max_power": 743.0,
        "weighted_avg_power": 230.0,
    }
    assert fields.details["device_watts"] is False


def test_estimated_power_absent_when_there_is_no_power(make_activity: Factory) -> None:
    activity = make_activity(device_watts=False)
    for key in ("average_watts", "weighted_average_watts", "max_watts", "kilojoules"):
        del activity[key]
    assert "estimated_power" not in workout_fields(activity).details


# -- sports ---------------------------------------------------------------------------------

FAMILIES = [
    ("Run", "run"),
    ("TrailRun", "trail_run"),
    ("VirtualRun", "run"),
    ("Walk", "walk"),
    ("Hike", "hike"),
    ("Snowshoe", "hike"),
    ("Ride", "ride"),
    ("GravelRide", "ride"),
    ("EBikeRide", "ride"),
    ("Velomobile", "ride"),
    ("Handcycle", "ride"),
    ("MountainBikeRide", "mountain_bike"),
    ("EMountainBikeRide", "mountain_bike"),
    ("VirtualRide", "virtual_ride"),
    ("Swim", "swim"),
    ("Rowing", "row"),
    ("VirtualRow", "row"),
    ("AlpineSki", "ski"),
    ("BackcountrySki", "ski"),
    ("Snowboard", "ski"),
    ("NordicSki", "nordic_ski"),
    ("RollerSki", "nordic_ski"),
    ("WeightTraining", "strength"),
    ("Crossfit", "strength"),
    ("Yoga", "yoga"),
    ("Elliptical", "elliptical"),
    ("Kayaking", "other"),
    ("Canoeing", "other"),
    ("StandUpPaddling", "other"),
    ("Surfing", "other"),
    ("Soccer", "other"),
    ("Tennis", "other"),
    ("Golf", "other"),
    ("HighIntensityIntervalTraining", "other"),
    ("Workout", "other"),
    ("Wheelchair", "other"),
    ("RockClimbing", "other"),
    ("Pickleball", "other"),
]


@pytest.mark.parametrize(("label", "sport"), FAMILIES)
def test_every_sport_family(make_activity: Factory, label: str, sport: str) -> None:
    fields = workout_fields(make_activity(sport_type=label, type="Workout"))
    assert fields.sport == sport
    assert fields.details["provider_sport"] == label


def test_sport_table_only_names_aurora_sports_and_covers_the_families() -> None:
    assert set(STRAVA_SPORTS.values()) <= set(SPORTS)
    assert {label for label, _ in FAMILIES} <= set(STRAVA_SPORTS)
    for label, sport in STRAVA_SPORTS.items():
        assert aurora_sport(label) == sport


def test_legacy_type_is_the_fallback(make_activity: Factory) -> None:
    activity = make_activity(type="Run")
    del activity["sport_type"]
    fields = workout_fields(activity)
    assert fields.sport == "run"
    assert fields.details["provider_sport"] == "Run"


def test_unknown_sport_is_other_with_the_label_kept(make_activity: Factory) -> None:
    fields = workout_fields(make_activity(sport_type="Underwater Hockey"))
    assert fields.sport == "other"
    assert fields.details["provider_sport"] == "Underwater Hockey"


def test_no_sport_at_all_is_other(make_activity: Factory) -> None:
    activity = make_activity(sport_type="  ")
    del activity["type"]
    fields = workout_fields(activity)
    assert fields.sport == "other"
    assert fields.details["provider_sport"] is None
    assert aurora_sport(None) == "other"


# -- time -----------------------------------------------------------------------------------


def test_offset_from_utc_offset_seconds(make_activity: Factory) -> None:
    assert tz_offset_minutes(make_activity(utc_offset=19800.0)) == 330  # India, +05:30
    assert tz_offset_minutes(make_activity(utc_offset=0)) == 0


def test_offset_falls_back_to_local_start(make_activity: Factory) -> None:
    activity = make_activity(start_date_local="2018-02-16T16:22:54Z")
    del activity["utc_offset"]
    assert tz_offset_minutes(activity) == 90
    assert workout_fields(activity).tz_offset_min == 90


@pytest.mark.parametrize(
    "changes",
    [
        {"utc_offset": 15 * 3600},  # beyond +14:00
        {"utc_offset": -13 * 3600},  # beyond -12:00
        {"utc_offset": None, "start_date_local": None},
        {"utc_offset": None, "start_date_local": "yesterday"},
    ],
)
def test_impossible_or_missing_offset_is_none(
    make_activity: Factory, changes: dict[str, Any]
) -> None:
    assert tz_offset_minutes(make_activity(**changes)) is None


def test_naive_start_is_read_as_utc(make_activity: Factory) -> None:
    fields = workout_fields(make_activity(start_date="2018-02-16T14:52:54"))
    assert fields.start_at == datetime(2018, 2, 16, 14, 52, 54, tzinfo=UTC)


def test_offset_start_is_normalised_to_utc(make_activity: Factory) -> None:
    fields = workout_fields(make_activity(start_date="2018-02-16T15:52:54+01:00"))
    assert fields.start_at == datetime(2018, 2, 16, 14, 52, 54, tzinfo=UTC)
    assert fields.start_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start_date": None}, "start_date is missing"),
        ({"start_date": "last tuesday"}, "start_date is not a date-time"),
        ({"elapsed_time": 0}, "elapsed_time must be a positive"),
        ({"elapsed_time": -5}, "elapsed_time must be a positive"),
        ({"elapsed_time": None}, "elapsed_time must be a positive"),
        ({"elapsed_time": True}, "elapsed_time must be a positive"),
        ({"elapsed_time": 31 * 86400}, "longer than 30 days"),
        ({"id": None}, "no valid id"),
        ({"id": "4242"}, "no valid id"),
        ({"id": 0}, "no valid id"),
        ({"id": True}, "no valid id"),
        ({"laps": {"not": "a list"}}, "laps must be an array"),
        ({"laps": [1, 2]}, "laps must be an array"),
        ({"splits_metric": "1km"}, "splits_metric must be an array"),
        ({"laps": [{"start_date": "soon"}]}, "lap start_date is not a date-time"),
    ],
)
def test_untrustworthy_activities_are_refused(
    make_activity: Factory, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        workout_fields(make_activity(**changes))


def test_non_object_activity_is_refused() -> None:
    with pytest.raises(MappingError, match="must be an object"):
        workout_fields([1, 2, 3])  # type: ignore[arg-type]


# -- origin device --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "origin"),
    [
        ("Garmin Edge 530", "Garmin Edge 530"),
        ("WHOOP", "WHOOP"),
        ("Zwift", "Zwift"),
        ("  Strava iPhone App ", "Strava iPhone App"),
        ("", None),
        (None, None),
        (42, None),
        ("x" * 500, "x" * 200),
    ],
)
def test_device_name_is_the_origin(make_activity: Factory, device: Any, origin: str | None) -> None:
    assert workout_fields(make_activity(device_name=device)).origin_device == origin


def test_absent_device_name_means_strava_itself(make_activity: Factory) -> None:
    activity = make_activity()
    del activity["device_name"]
    assert origin_device(activity) is None


def test_manual_entry_has_the_manual_origin(make_activity: Factory) -> None:
    """A hand-typed activity was recorded by no device; it must not outrank a real recording."""
    activity = make_activity(manual=True, device_name=None)
    fields = workout_fields(activity)
    assert fields.origin_device == "manual"
    assert fields.details["manual"] is True
    assert origin_device(make_activity(manual=True, device_name="Garmin Edge 530")) == "manual"


# -- laps and splits ------------------------------------------------------------------------


def test_laps_are_kept_with_their_start_offsets(make_activity: Factory) -> None:
    laps = workout_fields(make_activity()).details["laps"]
    assert laps == [
        {
            "index": 1,
            "name": "Lap 1",
            "start_offset_s": 0.0,
            "elapsed_time_s": 1573.0,
            "moving_time_s": 1569.0,
            "distance_m": 8046.72,
            "elevation_gain_m": 276.0,
            "avg_speed": 5.12,
            "max_speed": 9.5,
            "avg_cadence": 78.6,
            "avg_power": 233.1,
            "start_index": 0.0,
            "end_index": 1570.0,
        },
        {
            "index": 2,
            "name": "Lap 2",
            "start_offset_s": 1573.0,
            "elapsed_time_s": 2837.0,
            "moving_time_s": 2638.0,
            "distance_m": 20052.28,
            "start_index": 1571.0,
            "end_index": 4409.0,
        },
    ]


def test_separately_fetched_laps_replace_the_embedded_ones(make_activity: Factory) -> None:
    activity = make_activity()
    del activity["laps"]
    assert "laps" not in workout_fields(activity).details
    fetched = [{"elapsed_time": 60, "distance": 250.0, "average_heartrate": 150.0}]
    laps = workout_fields(activity, laps=fetched).details["laps"]
    assert laps == [{"index": 1, "elapsed_time_s": 60.0, "distance_m": 250.0, "avg_hr": 150.0}]


def test_splits_are_stored_as_reported_with_a_partial_last_one(make_activity: Factory) -> None:
    splits = workout_fields(make_activity()).details["splits_metric"]
    assert [s["split"] for s in splits] == [1, 2]
    assert splits[0]["distance_m"] == 1001.5  # Strava's "1 km" is what the device measured
    assert splits[-1] == {
        "split": 2,
        "distance_m": 412.3,
        "elapsed_time_s": 70.0,
        "moving_time_s": 66.0,
        "elevation_difference_m": -1.0,
        "avg_speed": 5.9,
        "pace_zone": 0.0,
    }


def test_split_without_number_gets_its_position(make_activity: Factory) -> None:
    splits = workout_fields(make_activity(splits_metric=[{"distance": 1000.0}, {}])).details
    assert [s["split"] for s in splits["splits_metric"]] == [1, 2]


def test_no_laps_no_splits_no_keys(make_activity: Factory) -> None:
    details = workout_fields(make_activity(laps=[], splits_metric=None)).details
    assert "laps" not in details and "splits_metric" not in details


# -- streams --------------------------------------------------------------------------------


def test_streams_become_samples(make_activity: Factory, make_streams: Factory) -> None:
    fields = workout_fields(make_activity(), streams=make_streams(points=3))
    assert fields.samples is not None
    assert fields.samples["t"] == [0.0, 1.0, 2.0]
    assert fields.samples["hr"] == [140.0, 141.0, 142.0]


def test_bad_streams_reject_the_mapping(make_activity: Factory, make_streams: Factory) -> None:
    with pytest.raises(MappingError, match="heartrate"):
        workout_fields(make_activity(), streams=make_streams(points=3, heartrate=[1, 2]))


# -- summaries ------------------------------------------------------------------------------


def test_summary_says_enough_to_decide_on_a_fetch(
    make_summary: Factory, make_activity: Factory
) -> None:
    summary = summary_of(make_summary())
    assert summary.activity_id == 4242
    assert summary.athlete_id == "134815"
    assert summary.start_at == datetime(2018, 2, 16, 14, 52, 54, tzinfo=UTC)
    stored = workout_fields(make_activity()).details["fingerprint"]
    assert summary.fingerprint == stored
    assert not summary.needs_fetch(stored)
    assert summary.needs_fetch(None)


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Renamed"},
        {"sport_type": "GravelRide"},
        {"elapsed_time": 4000},
        {"distance": 27000.0},
        {"start_date": "2018-02-16T14:52:55Z"},
    ],
)
def test_an_edit_on_strava_changes_the_fingerprint(
    make_summary: Factory, make_activity: Factory, change: dict[str, Any]
) -> None:
    stored = workout_fields(make_activity()).details["fingerprint"]
    assert summary_of(make_summary(**change)).needs_fetch(stored)


def test_kudos_do_not_change_the_fingerprint(make_summary: Factory) -> None:
    assert fingerprint(make_summary(kudos_count=1)) == fingerprint(make_summary(kudos_count=99))


@pytest.mark.parametrize(
    "item",
    [None, [], {"start_date": "2018-02-16T14:52:54Z"}, {"id": 5}, {"id": 5, "start_date": 7}],
)
def test_malformed_summaries_are_refused(item: Any) -> None:
    with pytest.raises(MappingError):
        summary_of(item)


@pytest.mark.parametrize(
    ("athlete", "expected"),
    [({"id": 7}, "7"), ({"id": "7"}, None), ({"id": True}, None), (None, None), ("7", None)],
)
def test_athlete_id(athlete: Any, expected: str | None) -> None:
    assert athlete_id({"athlete": athlete}) == expected
