# ruff: noqa: E501  (inline XML test data reads best on one line)
"""Pure mapping rules: dates, sources, sports, workouts, sleep per source, daily vitals, rings."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from types import ModuleType

import pytest

from aurora_ingest.apple.dates import parse_date, parse_day, parse_iso
from aurora_ingest.apple.errors import ExportError
from aurora_ingest.apple.health import HealthAccumulator
from aurora_ingest.apple.mapping import Normaliser, RoutePoint, map_workout, merge_samples
from aurora_ingest.apple.parser import Node, read_items
from aurora_ingest.apple.sources import device_name, normalise_name, origin_device
from aurora_ingest.apple.sports import sport_of
from aurora_ingest.records.rules import SPORTS, samples_problem

UTC = dt.UTC


def nodes(ax: ModuleType, *xml: str) -> list[Node]:
    out: list[Node] = []
    for _, batch in read_items(io.BytesIO(ax.document(*xml))):
        out.extend(n for n in batch if n[0] != "ExportDate")
    return out


def test_dates_keep_their_offset_and_wrong_formats_are_precise() -> None:
    moment = parse_date("2024-03-10 01:59:59 -0800", "Record startDate")
    assert moment.utcoffset() == dt.timedelta(hours=-8)
    assert moment.astimezone(UTC) == dt.datetime(2024, 3, 10, 9, 59, 59, tzinfo=UTC)
    for bad in ("2024-03-10T01:59:59Z", "2024-03-10 01:59:59", "2024-03-10 01:59:59 -08:00", ""):
        with pytest.raises(
            ExportError, match=r"Record startDate is .* not a date like YYYY-MM-DD HH:MM:SS ±HHMM"
        ):
            parse_date(bad, "Record startDate")
    with pytest.raises(ExportError, match="not a real date"):
        parse_date("2024-02-30 01:00:00 +0000", "Workout endDate")
    assert parse_day("2024-02-29", "d") == dt.date(2024, 2, 29)
    with pytest.raises(ExportError):
        parse_day("29/02/2024", "ActivitySummary dateComponents")
    assert parse_iso("2019-06-11T22:00:00Z", "t").tzinfo is not None
    with pytest.raises(ExportError, match="without an offset"):
        parse_iso("2019-06-11T22:00:00", "t")


@pytest.mark.parametrize(
    ("source", "device", "origin"),
    [
        ("Jane\u2019s Apple\u00a0Watch", None, "Apple Watch"),
        ("Jane's Apple Watch", None, "Apple Watch"),
        ("Jane\u2019s iPhone", None, "iPhone"),
        ("Oura", None, "Oura"),
        ("WHOOP", None, "WHOOP"),
        ("Connect", None, "Garmin Connect"),
        ("Garmin Connect", None, "Garmin Connect"),
        ("Strava", "<<HKDevice: 0x1>, name:iPhone, manufacturer:Apple Inc.>", "Strava"),
        ("Health Mate", None, "Health Mate"),
        ("Tracker", "<<HKDevice: 0x1>, name:Apple Watch, manufacturer:Apple Inc.>", "Apple Watch"),
        ("", None, "unknown"),
    ],
)
def test_origin_devices(source: str, device: str | None, origin: str) -> None:
    assert origin_device(source, device) == origin


def test_names_and_device_strings_are_normalised() -> None:
    assert normalise_name(" Jane\u2019s\u00a0 Apple\u202fWatch ") == "Jane's Apple Watch"
    assert (
        device_name(
            "<<HKDevice: 0x282a45810>, name:Apple Watch, manufacturer:Apple Inc., model:Watch>"
        )
        == "Apple Watch"
    )
    assert device_name("no name here") is None and device_name(None) is None


def test_every_mapped_sport_is_an_aurora_sport() -> None:
    assert sport_of("HKWorkoutActivityTypeRunning") == ("run", "Running")
    assert sport_of("HKWorkoutActivityTypeCrossCountrySkiing") == (
        "nordic_ski",
        "CrossCountrySkiing",
    )
    assert sport_of("HKWorkoutActivityTypeHighIntensityIntervalTraining") == (
        "other",
        "HighIntensityIntervalTraining",
    )
    from aurora_ingest.apple.sports import APPLE_SPORTS

    assert set(APPLE_SPORTS.values()) <= set(SPORTS)


def test_a_modern_workout_with_statistics_events_metadata_and_legs(ax: ModuleType) -> None:
    s, e = "2024-05-02 07:00:00 -0700", "2024-05-02 08:00:00 -0700"
    children = (
        '<MetadataEntry key="HKIndoorWorkout" value="0"/>'
        '<MetadataEntry key="HKElevationAscended" value="26200 cm"/>'
        f'<WorkoutEvent type="HKWorkoutEventTypeSegment" date="{s}" duration="5" durationUnit="min"/>'
        '<WorkoutEvent type="HKWorkoutEventTypePause" date="2024-05-02 07:30:00 -0700"/>'
        '<WorkoutEvent type="HKWorkoutEventTypeResume" date="2024-05-02 07:31:00 -0700"/>'
        '<WorkoutEvent type="HKWorkoutEventTypeLap" date="2024-05-02 07:10:00 -0700" duration="30" durationUnit="s">'
        '<MetadataEntry key="HKSwimmingStrokeStyle" value="2"/></WorkoutEvent>'
        '<WorkoutEvent type="HKWorkoutEventTypeMarker" date="2024-05-02 07:40:00 -0700"/>'
        f'<WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{s}" endDate="{e}" average="141.5" minimum="90" maximum="181" unit="count/min"/>'
        f'<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" startDate="{s}" endDate="{e}" sum="10.5" unit="km"/>'
        f'<WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" startDate="{s}" endDate="{e}" sum="600" unit="kcal"/>'
        f'<WorkoutActivity uuid="A-1" startDate="{s}" endDate="2024-05-02 07:20:00 -0700" duration="20" durationUnit="min">'
        f'<WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{s}" endDate="{e}" average="130" unit="count/min"/>'
        "</WorkoutActivity>"
    )
    (node,) = nodes(
        ax,
        ax.workout(
            "Running",
            ax.WATCH,
            s,
            e,
            duration="60",
            durationUnit="min",
            device=ax.WATCH_DEVICE,
            children=children,
        ),
    )
    draft = map_workout(node)
    assert draft is not None
    f = draft.fields
    assert (f.sport, f.duration_s, f.tz_offset_min, f.origin_device) == (
        "run",
        3600.0,
        -420,
        "Apple Watch",
    )
    assert f.metrics == {
        "avg_hr": 141.5,
        "min_hr": 90.0,
        "max_hr": 181.0,
        "distance_m": 10500.0,
        "energy_kj": 2510.4,
        "elevation_gain_m": 262.0,
    }
    d = f.details
    assert d["provider_sport"] == "Running" and d["source_name"] == "Jane's Apple Watch"
    assert d["segments"] == [{"offset_s": 0.0, "elapsed_s": 300.0}]
    assert [p["type"] for p in d["pauses"]] == ["Pause", "Resume"]
    assert d["laps"] == [
        {"offset_s": 600.0, "elapsed_s": 30.0, "metadata": {"HKSwimmingStrokeStyle": "2"}}
    ]
    assert d["markers"] == [{"offset_s": 2400.0, "type": "Marker"}]
    assert (
        d["activities"][0]["metrics"] == {"avg_hr": 130.0}
        and d["activities"][0]["elapsed_s"] == 1200.0
    )
    assert d["metadata"]["HKIndoorWorkout"] == "0"


def test_legacy_totals_inline_route_and_stable_ids(ax: ModuleType) -> None:
    s, e = "2019-06-11 14:00:00 -0700", "2019-06-11 14:30:00 -0700"
    route = (
        f'<WorkoutRoute sourceName="x" startDate="{s}" endDate="{e}">'
        f'<Location date="{s}" latitude="37.1" longitude="-122.1" altitude="10"/>'
        '<Location date="2019-06-11 14:00:05 -0700" latitude="37.2" longitude="-122.2"/>'
        "</WorkoutRoute>"
    )
    xml = ax.workout(
        "Cycling",
        "Strava",
        s,
        e,
        totalDistance="10",
        totalDistanceUnit="mi",
        totalEnergyBurned="300",
        totalEnergyBurnedUnit="kcal",
        children=route,
    )
    (node,) = nodes(ax, xml)
    draft = map_workout(node)
    assert draft is not None and draft.fields.origin_device == "Strava"
    assert draft.fields.metrics == {"distance_m": 16093.44, "energy_kj": 1255.2}
    assert draft.fields.duration_s == 1800.0  # no duration attribute: end - start
    assert [p.lat for p in draft.route] == [37.1, 37.2] and draft.route[1].altitude is None
    (again,) = nodes(ax, xml.replace("Strava", "Strava"))
    assert map_workout(again).external_id == draft.external_id  # type: ignore[union-attr]
    (other,) = nodes(ax, xml.replace("14:30:00", "14:31:00"))
    assert map_workout(other).external_id != draft.external_id  # type: ignore[union-attr]
    (backwards,) = nodes(ax, ax.workout("Cycling", "Strava", e, s))
    assert map_workout(backwards) is None


def test_bad_numbers_are_precise(ax: ModuleType) -> None:
    (node,) = nodes(
        ax,
        ax.workout(
            "Running",
            "W",
            "2024-01-01 08:00:00 +0000",
            "2024-01-01 09:00:00 +0000",
            totalDistance="ten",
            totalDistanceUnit="km",
        ),
    )
    with pytest.raises(ExportError, match="Workout totalDistance is 'ten', not a number"):
        map_workout(node)


def test_samples_merge_heart_rate_and_gps_per_second() -> None:
    start = dt.datetime(2024, 1, 1, 8, tzinfo=UTC)
    sec = dt.timedelta(seconds=1)
    samples = merge_samples(
        start,
        [(start, 100.0), (start + 5 * sec, 110.0)],
        [RoutePoint(start + sec, 1.0, 2.0, 3.0), RoutePoint(start + 5 * sec, 1.1, 2.1)],
    )
    assert samples == {
        "t": [0.0, 1.0, 5.0],
        "altitude": [None, 3.0, None],
        "hr": [100.0, None, 110.0],
        "lat": [None, 1.0, 1.1],
        "lng": [None, 2.0, 2.1],
    }
    assert samples_problem(samples) is None
    assert merge_samples(start, []) is None


def test_overlapping_sleep_of_several_sources_stays_apart(ax: ModuleType) -> None:
    acc = HealthAccumulator()
    rows = [
        (
            "Apple Watch",
            ax.sleep("W", "2024-05-01 23:00:00 -0700", "2024-05-02 01:00:00 -0700", "AsleepCore"),
        ),
        (
            "Apple Watch",
            ax.sleep("W", "2024-05-02 01:00:00 -0700", "2024-05-02 02:00:00 -0700", "AsleepDeep"),
        ),
        (
            "Apple Watch",
            ax.sleep("W", "2024-05-02 02:00:00 -0700", "2024-05-02 02:30:00 -0700", "Awake"),
        ),
        (
            "Apple Watch",
            ax.sleep("W", "2024-05-02 02:30:00 -0700", "2024-05-02 06:00:00 -0700", "AsleepREM"),
        ),
        (
            "iPhone",
            ax.sleep("P", "2024-05-01 22:30:00 -0700", "2024-05-02 06:30:00 -0700", "InBed"),
        ),
        ("Oura", ax.sleep("O", "2024-05-01 23:05:00 -0700", "2024-05-02 06:05:00 -0700", "Asleep")),
        (
            "Oura",
            ax.sleep("O", "2024-05-02 14:00:00 -0700", "2024-05-02 14:30:00 -0700", "AsleepCore"),
        ),  # nap
        (
            "Oura",
            ax.sleep("O", "2024-05-02 23:00:00 -0700", "2024-05-03 06:00:00 -0700", "AsleepCore"),
        ),
    ]
    for origin, xml in rows:
        (node,) = nodes(ax, xml)
        assert acc.add_sleep(origin, node)
    (unknown,) = nodes(
        ax, ax.sleep("W", "2024-05-01 23:00:00 -0700", "2024-05-02 01:00:00 -0700", "Dreaming")
    )
    assert not acc.add_sleep("Apple Watch", unknown)
    records = {(f.origin_device, f.date.isoformat()): f for _, f in acc.records()}
    assert sorted(records) == [
        ("Apple Watch", "2024-05-02"),
        ("Oura", "2024-05-02"),
        ("Oura", "2024-05-03"),
        ("iPhone", "2024-05-02"),
    ]
    watch = records[("Apple Watch", "2024-05-02")]
    assert watch.metrics == {
        "core_s": 7200.0,
        "deep_s": 3600.0,
        "awake_s": 1800.0,
        "rem_s": 12600.0,
        "asleep_s": 23400.0,
    }
    assert watch.start_at.astimezone(UTC).hour == 6 and watch.tz_offset_min == -420
    assert records[("iPhone", "2024-05-02")].metrics == {"in_bed_s": 28800.0}
    assert records[("Oura", "2024-05-02")].metrics["asleep_s"] == 25200.0 + 1800.0  # night + nap
    ids = [key for key, _ in acc.records()]
    assert len(set(ids)) == len(ids)


def test_daily_vitals_per_source_and_rings(ax: ModuleType) -> None:
    norm = Normaliser(uuid.uuid4(), uuid.uuid4())
    norm.feed(
        nodes(
            ax,
            ax.record(
                ax.HK + "RestingHeartRate",
                ax.WATCH,
                "2024-05-02 00:03:00 -0700",
                None,
                52,
                "count/min",
            ),
            ax.record(
                ax.HK + "RestingHeartRate",
                "Oura",
                "2024-05-02 00:03:00 -0700",
                None,
                48,
                "count/min",
            ),
            ax.record(
                ax.HK + "HeartRateVariabilitySDNN",
                ax.WATCH,
                "2024-05-02 01:00:00 -0700",
                None,
                0.05,
                "s",
            ),
            ax.record(
                ax.HK + "HeartRate", ax.WATCH, "2024-05-02 01:00:00 -0700", None, 1.5, "count/s"
            ),
            ax.record(
                ax.HK + "HeartRate", ax.WATCH, "2024-05-02 01:00:00 -0700", None, 60, "furlongs"
            ),
            '<ActivitySummary dateComponents="2024-05-02" activeEnergyBurned="100" activeEnergyBurnedUnit="kJ" appleExerciseTime="20"/>\n',
            '<ClinicalRecord type="x"/>\n',
        )
    )
    assert (
        len(norm.rows) == 4
        and "\thr\tApple Watch\t2024-05-02 01:00:00 -0700\t2024-05-02 01:00:00 -0700\t90.0\n"
        in norm.rows[3]
    )
    assert norm.skipped == {ax.HK + "HeartRate": 1, "ClinicalRecord": 1}
    records = {(f.kind, f.origin_device): f for _, f in norm.health.records()}
    assert records[("daily", "Apple Watch")].metrics == {"hrv_sdnn_ms": 50.0, "resting_hr": 52.0}
    assert records[("daily", "Oura")].metrics == {"resting_hr": 48.0}
    rings = records[("daily", None)]
    assert rings.metrics == {
        "active_energy_kj": 100.0,
        "exercise_s": 1200.0,
    } and rings.date == dt.date(2024, 5, 2)


def test_a_wrong_sample_date_is_precise(ax: ModuleType) -> None:
    norm = Normaliser(uuid.uuid4(), uuid.uuid4())
    with pytest.raises(ExportError, match="Record startDate is '2024-05-02T01:00:00Z'"):
        norm.feed(
            nodes(
                ax,
                ax.record(
                    ax.HK + "HeartRate",
                    "W",
                    "2024-05-02T01:00:00Z",
                    "2024-05-02 01:00:00 -0700",
                    60,
                    "count/min",
                ),
            )
        )
