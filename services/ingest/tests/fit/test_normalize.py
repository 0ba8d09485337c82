"""workouts_of over FitFile values built here: every decision of the normaliser, pinned."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aurora_ingest.fit.messages import FitDecodeError, FitFile, FitMessage
from aurora_ingest.fit.normalize import NotAnActivityError, workouts_of
from aurora_ingest.records.rules import samples_problem

T0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
SHA = "ab" * 32
SEMI = 2**31 / 180.0  # semicircles per degree


def m(name: str, dev: dict[str, Any] | None = None, **fields: Any) -> FitMessage:
    return FitMessage(name, 0, fields, dev or {})


def file_id(**extra: Any) -> FitMessage:
    base: dict[str, Any] = {
        "type": "activity",
        "manufacturer": "garmin",
        "garmin_product": "edge_530",
        "serial_number": 3376547458,
        "time_created": T0,
    }
    return m("file_id", **(base | extra))


def record(second: int, **extra: Any) -> FitMessage:
    base: dict[str, Any] = {
        "timestamp": T0 + timedelta(seconds=second),
        "heart_rate": 120 + second % 10,
        "power": 200,
        "cadence": 85,
        "enhanced_speed": 8.0,
        "speed": 8.0,
        "distance": 8.0 * second,
        "enhanced_altitude": 100.5,
        "position_lat": round(45.5 * SEMI),
        "position_long": round(-73.25 * SEMI),
        "temperature": 21,
    }
    return m("record", **(base | extra))


def session(
    start_s: int, seconds: float, sport: str | int = "cycling", sub: str = "road", **extra: Any
) -> FitMessage:
    fields: dict[str, Any] = {
        "timestamp": T0 + timedelta(seconds=start_s + seconds),
        "start_time": T0 + timedelta(seconds=start_s),
        "total_elapsed_time": seconds,
        "total_timer_time": seconds - 1,
        "total_distance": 1000.0,
        "sport": sport,
        "sub_sport": sub,
        "avg_heart_rate": 130,
        "max_heart_rate": 150,
        "avg_power": 210,
        "enhanced_avg_speed": 7.5,
        "avg_speed": 7.4,
        "total_work": 360000,
    }
    return m("session", **(fields | extra))


def activity(end_s: int, offset_min: int = 120) -> FitMessage:
    end = T0 + timedelta(seconds=end_s)
    return m("activity", timestamp=end, local_timestamp=end + timedelta(minutes=offset_min))


def ride(seconds: int = 60, **session_extra: Any) -> FitFile:
    msgs = [
        file_id(),
        m(
            "device_info",
            device_index="creator",
            manufacturer="garmin",
            garmin_product="edge_530",
            serial_number=3376547458,
            software_version=9.1,
        ),
        *(record(s) for s in range(seconds)),
        m(
            "lap",
            start_time=T0,
            timestamp=T0 + timedelta(seconds=30),
            total_elapsed_time=30.0,
            total_distance=240.0,
            avg_heart_rate=125,
            lap_trigger="manual",
        ),
        m(
            "lap",
            start_time=T0 + timedelta(seconds=30),
            timestamp=T0 + timedelta(seconds=seconds),
            total_elapsed_time=seconds - 30.0,
            lap_trigger="session_end",
        ),
        session(0, float(seconds), **session_extra),
        activity(seconds),
    ]
    return FitFile(msgs)


def test_a_ride_becomes_one_workout_with_everything_normalised() -> None:
    (workout,) = workouts_of(ride(), sha256=SHA)
    f = workout.fields
    assert workout.external_id == f"garmin-edge_530-3376547458-{int(T0.timestamp())}:0"
    assert (f.sport, f.start_at, f.end_at, f.duration_s) == (
        "ride",
        T0,
        T0 + timedelta(seconds=60),
        60.0,
    )
    assert f.tz_offset_min == 120
    assert f.origin_device == "Garmin Edge 530"
    assert f.metrics["distance_m"] == 1000.0 and f.metrics["moving_time_s"] == 59.0
    assert f.metrics["avg_speed"] == 7.5  # enhanced_* wins over the 16-bit field
    assert f.metrics["kilojoules"] == 360.0 and f.metrics["avg_hr"] == 130.0
    d = f.details
    assert d["device"] == {
        "manufacturer": "garmin",
        "product": "edge_530",
        "product_name": "Edge 530",
        "serial": 3376547458,
        "software_version": 9.1,
    }
    assert (d["session_index"], d["sessions_total"], d["transition"]) == (0, 1, False)
    assert d["parent_activity"] == workout.external_id.rsplit(":", 1)[0]
    assert (d["provider_sport"], d["provider_sub_sport"]) == ("cycling", "road")
    assert [lap["start_offset_s"] for lap in d["laps"]] == [0.0, 30.0]
    assert d["laps"][0] == {
        "index": 0,
        "start_offset_s": 0.0,
        "elapsed_time_s": 30.0,
        "distance_m": 240.0,
        "avg_hr": 125.0,
        "lap_trigger": "manual",
    }
    assert "salvaged" not in d
    s = f.samples
    assert s is not None and samples_problem(s) is None
    assert s["t"][:3] == [0.0, 1.0, 2.0] and len(s["t"]) == 60
    assert s["hr"][:2] == [120, 121] and s["power"][0] == 200 and s["distance"][2] == 16.0
    assert s["speed"][0] == 8.0 and s["altitude"][0] == 100.5 and s["temp"][0] == 21
    assert s["lat"][0] == pytest.approx(45.5, abs=1e-6) and s["lng"][0] == pytest.approx(
        -73.25, abs=1e-6
    )
    json.dumps(d)  # JSON-ready as stored


def test_the_same_input_gives_equal_workouts() -> None:
    assert workouts_of(ride(), sha256=SHA) == workouts_of(ride(), sha256="cd" * 32)


def test_without_time_created_the_file_hash_is_the_key() -> None:
    fit = ride()
    fit.messages[0] = file_id(time_created=None)
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.external_id == f"sha256-{SHA}:0"


def test_the_serial_falls_back_to_the_creator_device() -> None:
    fit = ride()
    fit.messages[0] = file_id(serial_number=None)
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.external_id.startswith("garmin-edge_530-3376547458-")


def _triathlon(summary_first: bool) -> FitFile:
    legs = [
        (0, 20, "swimming", "open_water"),
        (20, 5, "transition", "generic"),
        (25, 30, "cycling", "generic"),
        (55, 5, "transition", "generic"),
        (60, 20, "running", "generic"),
    ]
    summaries = [session(start, float(length), sport, sub) for start, length, sport, sub in legs]
    laps = [
        m("lap", start_time=T0 + timedelta(seconds=start), total_elapsed_time=float(length))
        for start, length, _, _ in legs
    ]
    records = [record(s) for s in range(80)]
    body = [*summaries, *laps, *records] if summary_first else [*records, *laps, *summaries]
    return FitFile([file_id(), *body, activity(80)])


def test_each_session_of_a_multisport_file_is_a_workout_grouped_under_its_activity() -> None:
    workouts = workouts_of(_triathlon(summary_first=False), sha256=SHA)
    assert [w.fields.sport for w in workouts] == ["swim", "other", "ride", "other", "run"]
    assert [w.fields.details["transition"] for w in workouts] == [False, True, False, True, False]
    assert [w.fields.duration_s for w in workouts] == [20.0, 5.0, 30.0, 5.0, 20.0]
    assert {w.fields.details["parent_activity"] for w in workouts} == {workouts[0].external_id[:-2]}
    assert [w.external_id[-2:] for w in workouts] == [":0", ":1", ":2", ":3", ":4"]
    assert [w.fields.details["sessions_total"] for w in workouts] == [5] * 5
    # Records split at the next session's start; every record lands exactly once.
    lengths = [len(w.fields.samples["t"]) for w in workouts if w.fields.samples]
    assert lengths == [20, 5, 30, 5, 20]
    assert workouts[2].fields.samples is not None and workouts[2].fields.samples["t"][0] == 0.0
    assert [len(w.fields.details["laps"]) for w in workouts] == [1] * 5


def test_summaries_before_or_after_the_records_give_the_same_workouts() -> None:
    assert workouts_of(_triathlon(True), sha256=SHA) == workouts_of(_triathlon(False), sha256=SHA)


def test_records_after_the_last_session_end_stay_and_are_flagged() -> None:
    fit = ride(60)
    fit.messages[-2] = session(0, 40.0)  # a stale summary: the recording went on
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.fields.duration_s == 40.0
    assert workout.fields.samples is not None and len(workout.fields.samples["t"]) == 60
    assert workout.fields.details["samples_after_end"] == 18  # the 1 s end tolerance keeps 0..41


def test_unsorted_records_are_put_in_time_order() -> None:
    fit = ride(10)
    fit.messages[2], fit.messages[5] = fit.messages[5], fit.messages[2]
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.fields.samples is not None
    assert workout.fields.samples["t"] == [float(s) for s in range(10)]


def test_a_session_without_start_time_is_placed_from_its_end() -> None:
    fit = ride(60)
    fit.messages[-2] = session(0, 60.0, start_time=None)
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.fields.start_at == T0


@pytest.mark.parametrize(
    ("types", "named"),
    [
        (["monitoring_b"], "monitoring_b"),
        (["settings"], "settings"),
        (["workout"], "workout"),
        ([None], "unknown"),
        (["course", "settings"], "course"),
    ],
)
def test_other_file_types_are_refused_by_name(types: list[str | None], named: str) -> None:
    fit = FitFile([file_id(type=t) for t in types] + [m("monitoring", timestamp=T0)])
    with pytest.raises(NotAnActivityError) as caught:
        workouts_of(fit, sha256=SHA)
    assert caught.value.file_type == named
    assert str(caught.value) == f"this is a {named} file, not an activity"


def test_no_file_id_and_nothing_recorded_is_not_an_activity() -> None:
    with pytest.raises(NotAnActivityError) as caught:
        workouts_of(FitFile([m("user_profile", weight=70.0)]), sha256=SHA)
    assert caught.value.file_type == "unknown"


def test_no_file_id_but_sessions_is_accepted_keyed_by_hash() -> None:
    fit = ride(20)
    del fit.messages[0]
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.external_id == f"sha256-{SHA}:0"


def test_an_activity_chained_with_a_settings_file_is_an_activity() -> None:
    fit = ride(20)
    fit.messages.append(file_id(type="settings", time_created=None))
    fit.chained = 2
    (workout,) = workouts_of(fit, sha256=SHA)
    assert workout.fields.sport == "ride"


def test_an_empty_activity_is_refused_with_a_reason() -> None:
    with pytest.raises(FitDecodeError, match="no session and no timed record"):
        workouts_of(FitFile([file_id(), activity(0)]), sha256=SHA)


def test_without_sessions_one_salvaged_workout_spans_the_records() -> None:
    msgs = [
        file_id(),
        m("sport", sport="running", sub_sport="trail"),
        *(record(s) for s in range(30)),
        activity(29, offset_min=-360),
    ]
    (workout,) = workouts_of(FitFile(msgs), sha256=SHA)
    f = workout.fields
    assert (f.sport, f.start_at, f.duration_s, f.tz_offset_min) == ("trail_run", T0, 29.0, -360)
    assert f.details["salvaged"] is True and "no session message" in f.details["salvage_reason"]
    assert f.metrics["elapsed_time_s"] == 29.0 and f.metrics["max_hr"] == 129
    assert f.metrics["distance_m"] == 8.0 * 29 and f.metrics["avg_power"] == 200.0
    assert f.samples is not None and len(f.samples["t"]) == 30


def test_without_sessions_or_sport_message_the_sport_is_other() -> None:
    (workout,) = workouts_of(FitFile([file_id(), *(record(s) for s in range(5))]), sha256=SHA)
    assert workout.fields.sport == "other" and workout.fields.details["provider_sport"] is None
    assert workout.fields.tz_offset_min is None


def test_records_spanning_no_time_without_session_are_refused() -> None:
    with pytest.raises(FitDecodeError, match="span no time"):
        workouts_of(FitFile([file_id(), record(0)]), sha256=SHA)


def test_a_salvage_reason_from_the_caller_is_kept() -> None:
    (workout,) = workouts_of(
        ride(10), sha256=SHA, salvage_reason="file ends mid-record at byte 900"
    )
    assert workout.fields.details["salvaged"] is True
    assert workout.fields.details["salvage_reason"] == "file ends mid-record at byte 900"


def _relative_run(anchor: bool) -> FitFile:
    base = 17_217_864  # seconds since the device powered on, like the FR70
    msgs = [
        file_id(time_created=base, garmin_product="fr70", serial_number=1215347),
        *(m("record", timestamp=base + 5 * i, heart_rate=100 + i) for i in range(10)),
        m(
            "session",
            timestamp=base + 45,
            start_time=base,
            total_elapsed_time=45.0,
            sport="running",
        ),
    ]
    if anchor:
        local_end = datetime(2012, 2, 13, 12, 21, 3, tzinfo=UTC)
        msgs.append(m("activity", timestamp=base + 45, local_timestamp=local_end))
    return FitFile(msgs)


def test_device_relative_times_are_anchored_on_the_local_timestamp_and_marked() -> None:
    (workout,) = workouts_of(_relative_run(anchor=True), sha256=SHA)
    f = workout.fields
    assert f.start_at == datetime(2012, 2, 13, 12, 20, 18, tzinfo=UTC)
    assert f.tz_offset_min is None  # the anchor is local time of an unknown zone
    assert f.details["time_reference"] == {
        "clock": "device_relative",
        "anchor": "activity.local_timestamp",
        "approximate": True,
    }
    assert workout.external_id == "garmin-fr70-1215347-r17217864:0"
    assert f.samples is not None and f.samples["t"][:3] == [0.0, 5.0, 10.0]
    assert f.origin_device == "Garmin Forerunner 70"


def test_device_relative_times_without_any_wall_clock_are_refused() -> None:
    with pytest.raises(FitDecodeError, match="relative to the device's power-on"):
        workouts_of(_relative_run(anchor=False), sha256=SHA)


def test_hostile_values_become_gaps_never_errors_or_bad_json() -> None:
    msgs = [
        file_id(manufacturer="garmin\x00", garmin_product=None, product=4242),
        record(
            0,
            heart_rate=(1, 2),
            power="x",
            cadence=math.nan,
            enhanced_speed=math.inf,
            speed=None,
            position_lat=2**31 - 2,
            distance=-math.inf,
        ),
        record(1),
        session(0, 2.0, sport_profile_name="Road\x00Bike", sport=99, sub_sport=None),
    ]
    (workout,) = workouts_of(FitFile(msgs), sha256=SHA)
    s = workout.fields.samples
    assert s is not None
    assert s["hr"][0] is None and s["power"][0] is None and s["cadence"][0] is None
    assert s["speed"][0] is None and s["distance"][0] is None
    assert s["lat"][0] is None and s["lng"][0] is None  # half a position is no position
    assert s["hr"][1] == 121
    assert workout.fields.sport == "other" and workout.fields.details["provider_sport"] == "99"
    assert workout.fields.details["sport_profile_name"] == "RoadBike"
    assert "\\u0000" not in json.dumps(workout.fields.details)


def test_a_session_with_no_positive_duration_is_skipped() -> None:
    fit = ride(20)
    fit.messages.insert(-1, session(20, 0.0, timestamp=T0 + timedelta(seconds=20)))
    workouts = workouts_of(fit, sha256=SHA)
    assert len(workouts) == 1 and workouts[0].fields.details["sessions_total"] == 1


def test_developer_fields_are_summarised_json_ready() -> None:
    msgs = [
        file_id(),
        *(
            m("record", {"Form Power": 250 + s, "Leg Spring Stiffness": 9.5}, **record(s).fields)
            for s in range(4)
        ),
        m("session", {"Form Power": 251, "raw": b"\x00\x01", "when": T0}, **session(0, 4.0).fields),
    ]
    (workout,) = workouts_of(FitFile(msgs), sha256=SHA)
    summary = workout.fields.details["developer_fields"]
    assert summary["fields"] == {
        "record": {"Form Power": 4, "Leg Spring Stiffness": 4},
        "session": {"Form Power": 1, "raw": 1, "when": 1},
    }
    assert summary["session"] == {"Form Power": 251, "raw": "0001", "when": T0.isoformat()}
    json.dumps(summary)


def test_pool_lengths_and_laps_belong_to_their_session() -> None:
    msgs = [
        file_id(),
        *(record(s, heart_rate=None) for s in range(50)),
        *(
            m(
                "length",
                start_time=T0 + timedelta(seconds=10 * i),
                total_elapsed_time=9.5,
                total_strokes=12,
                swim_stroke="freestyle",
                length_type="active",
                avg_speed=2.6,
            )
            for i in range(5)
        ),
        m(
            "length",
            start_time=T0 + timedelta(seconds=48),
            total_elapsed_time=2.0,
            length_type="idle",
        ),
        session(0, 50.0, sport="swimming", sub="lap_swimming", pool_length=25.0, num_lengths=6),
    ]
    (workout,) = workouts_of(FitFile(msgs), sha256=SHA)
    f = workout.fields
    assert f.sport == "swim" and f.metrics["pool_length_m"] == 25.0 and f.metrics["lengths"] == 6.0
    lengths = f.details["lengths"]
    assert len(lengths) == 6 and lengths[1] == {
        "index": 1,
        "start_offset_s": 10.0,
        "elapsed_time_s": 9.5,
        "strokes": 12.0,
        "avg_speed": 2.6,
        "swim_stroke": "freestyle",
        "length_type": "active",
    }
    assert lengths[5]["length_type"] == "idle"
    assert f.samples is not None and "hr" not in f.samples  # an all-empty channel is left out


def test_hrv_intervals_go_to_the_session_they_were_recorded_in() -> None:
    msgs: list[FitMessage] = [file_id()]
    for s in range(40):
        msgs.append(record(s))
        msgs.append(
            m("hrv", time=(0.8 if s < 20 else 0.6, None, 70.0))
        )  # None and 70 s are invalid
    msgs += [session(0, 20.0, "running", "generic"), session(20, 20.0, "cycling", "generic")]
    first, second = workouts_of(FitFile(msgs), sha256=SHA)
    assert first.fields.details["hrv_rr_s"] == [0.8] * 20
    assert second.fields.details["hrv_rr_s"] == [0.6] * 20
