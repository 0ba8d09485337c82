"""Every real activity fixture through decode + workouts_of, against SOURCES.md's table.

Runs only where the corpus exists (../shared/fixtures/fit, never copied into the
repo). Checks what SOURCES.md states per file: sessions and their FIT sports,
the summed duration, how many records became samples, HR merged from `hr`
messages, lengths, HRV, non-activity files, and the quirk decisions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from aurora_ingest.fit.decoder import decode
from aurora_ingest.fit.messages import FitDecodeError
from aurora_ingest.fit.normalize import FitWorkout, NotAnActivityError, workouts_of
from aurora_ingest.records.rules import SPORTS, samples_problem

FIXTURES = Path(__file__).resolve().parents[4].parent / "shared" / "fixtures" / "fit"
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="FIT corpus not present")

G = "generic"
# file -> ([(sport, sub_sport)] per session, summed duration "h:mm:ss", records, Aurora sports)
VALID: dict[str, tuple[list[tuple[str, str | None]], str, int, list[str]]] = {
    "Edge810-Vector-2013-08-16-15-35-10.fit": ([("cycling", G)], "1:18:20", 4700, ["ride"]),
    "2019-02-17-062644-ELEMNT-297E-195-0.fit": ([("cycling", None)], "6:33:15", 13471, ["ride"]),
    "developer-types-sample.fit": ([("running", G)], "0:57:04", 3424, ["run"]),
    "activity-small-fenix2-run.fit": ([("running", None)], "0:47:12", 2809, ["run"]),
    "null_compressed_speed_dist.fit": (
        [("cycling", "virtual_activity")],
        "0:30:07",
        1808,
        ["virtual_ride"],
    ),
    "garmin-fenix-5-run.fit": ([("running", G)], "0:00:56", 21, ["run"]),
    "2013-02-06-12-11-14.fit": ([("running", G)], "0:43:45", 590, ["run"]),
    "hrv-activity.fit": ([("cycling", "indoor_cycling")], "0:17:52", 1072, ["ride"]),
    "activity-large-fenxi2-multisport.fit": (
        [
            ("generic", None),
            ("transition", None),
            ("running", None),
            ("transition", None),
            ("running", None),
            ("transition", None),
            ("cycling", None),
        ],
        "6:50:17",
        24239,
        ["other", "other", "run", "other", "run", "other", "ride"],
    ),
    "sample_mulitple_header.fit": (
        [
            ("swimming", "open_water"),
            ("transition", G),
            ("cycling", G),
            ("transition", G),
            ("running", G),
        ],
        "2:38:11",
        1773,
        ["swim", "other", "ride", "other", "run"],
    ),
    "triathlon_summary_first.fit": (
        [
            ("swimming", "open_water"),
            ("transition", G),
            ("cycling", G),
            ("transition", G),
            ("running", G),
        ],
        "1:07:22",
        4043,
        ["swim", "other", "ride", "other", "run"],
    ),
    "triathlon_summary_last.fit": (
        [
            ("swimming", "open_water"),
            ("transition", G),
            ("cycling", G),
            ("transition", G),
            ("running", G),
        ],
        "1:07:22",
        4043,
        ["swim", "other", "ride", "other", "run"],
    ),
    "activity_multisport.fit": (
        [("cycling", "mountain"), ("running", "trail")],
        "0:01:16",
        78,
        ["mountain_bike", "trail_run"],
    ),
    "activity_poolswim.fit": ([("swimming", "lap_swimming")], "0:14:00", 24, ["swim"]),
    "activity_poolswim_with_hr.fit": ([("swimming", "lap_swimming")], "0:58:24", 3501, ["swim"]),
    "event_timestamp.fit": ([("swimming", "lap_swimming")], "1:16:07", 4376, ["swim"]),
    "garmin-fr935-cr.fit": ([("swimming", G)], "2:05:52", 7515, ["swim"]),
    "ActivityDevFields.fit": ([("stand_up_paddleboarding", G)], "1:00:01", 3601, ["other"]),
    "HrmPluginTestActivity.fit": ([("walking", G)], "0:05:09", 310, ["walk"]),
    "activity_lowbattery.fit": ([("cycling", "road")], "1:06:15", 3976, ["ride"]),
    "compressed-speed-distance.fit": ([("running", None)], "1:04:43", 755, ["run"]),
    "antfs-dump.63.fit": ([("running", None)], "0:57:06", 686, ["run"]),
    "activity-settings.fit": ([("running", G)], "0:00:13", 14, ["run"]),
    "big_activity.fit": ([("cycling", "road")], "8:34:37", 99998, ["ride"]),
}
# The Fenix 2 multisport's first session says it started 45 minutes after the recording did.
LEADING_RECORDS: dict[str, int] = {"activity-large-fenxi2-multisport.fit": 2700}
# Files without any session message: one salvaged workout over the records' span.
NO_SESSION: dict[str, tuple[str, int]] = {
    "WithGearChangeData.fit": ("0:32:58", 1979),
    "quirks/activity_truncated.fit": ("0:00:13", 14),
}
NOT_ACTIVITIES: dict[str, str] = {
    "MonitoringFile.fit": "monitoring_b",
    "WorkoutIndividualSteps.fit": "workout",
}
# file -> (records with HR in the file, samples with HR after the merge at least)
HR_MERGED: dict[str, tuple[int, int]] = {
    "activity_poolswim_with_hr.fit": (0, 3400),
    "HrmPluginTestActivity.fit": (84, 300),
    "event_timestamp.fit": (0, 4000),
    "sample_mulitple_header.fit": (1430, 1700),
    "garmin-fr935-cr.fit": (5298, 7000),
}


def _seconds(text: str) -> int:
    h, m, s = (int(part) for part in text.split(":"))
    return h * 3600 + m * 60 + s


def _workouts(name: str) -> list[FitWorkout]:
    data = (FIXTURES / name).read_bytes()
    return workouts_of(decode(data), sha256=hashlib.sha256(data).hexdigest())


def _hr_count(workouts: list[FitWorkout]) -> int:
    return sum(sum(v is not None for v in (w.fields.samples or {}).get("hr", [])) for w in workouts)


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_valid_activity_matches_its_sources_row(name: str) -> None:
    sessions, duration, records, sports = VALID[name]
    workouts = _workouts(name)
    assert [
        (w.fields.details["provider_sport"], w.fields.details["provider_sub_sport"])
        for w in workouts
    ] == sessions
    assert [w.fields.sport for w in workouts] == sports
    assert round(sum(w.fields.duration_s for w in workouts)) == pytest.approx(
        _seconds(duration), abs=1
    )
    before = workouts[0].fields.details.get("records_before_start", 0)
    assert sum(len(w.fields.samples["t"]) for w in workouts if w.fields.samples) + before == records
    assert before == LEADING_RECORDS.get(name, 0)
    assert len({w.external_id for w in workouts}) == len(workouts)
    assert {w.fields.details["parent_activity"] for w in workouts} == {workouts[0].external_id[:-2]}
    for w in workouts:
        assert w.fields.sport in SPORTS and w.fields.duration_s > 0
        assert w.fields.end_at is not None and w.fields.end_at > w.fields.start_at
        assert w.fields.samples is None or samples_problem(w.fields.samples) is None
        assert w.fields.details["transition"] is (
            w.fields.details["provider_sport"] == "transition"
        )
        json.dumps(
            {"details": w.fields.details, "samples": w.fields.samples, "metrics": w.fields.metrics},
            allow_nan=False,
        )


def test_summary_order_does_not_change_the_workouts() -> None:
    first, last = _workouts("triathlon_summary_first.fit"), _workouts("triathlon_summary_last.fit")
    assert [w.external_id for w in first] == [w.external_id for w in last]
    assert [(w.fields.start_at, w.fields.end_at, w.fields.samples) for w in first] == [
        (w.fields.start_at, w.fields.end_at, w.fields.samples) for w in last
    ]


@pytest.mark.parametrize("name", sorted(HR_MERGED))
def test_hr_from_hr_messages_is_merged_into_the_samples(name: str) -> None:
    in_records, at_least = HR_MERGED[name]
    workouts = _workouts(name)
    merged = sum(w.fields.details.get("hr_merged_samples", 0) for w in workouts)
    assert merged > 0
    assert _hr_count(workouts) == in_records + merged >= at_least


def test_pool_lengths_laps_and_hrv_are_kept() -> None:
    (pool,) = _workouts("activity_poolswim.fit")
    assert len(pool.fields.details["lengths"]) == 24 and len(pool.fields.details["laps"]) == 9
    assert (
        pool.fields.metrics["pool_length_m"] == 22.86
    )  # 25 yd: SOURCES.md's "25 m" is the yard count
    (hrv,) = _workouts("hrv-activity.fit")
    assert len(hrv.fields.details["hrv_rr_s"]) > 1000
    assert all(0.2 < rr < 2.0 for rr in hrv.fields.details["hrv_rr_s"])


def test_origin_devices_name_maker_and_model() -> None:
    assert _workouts("hrv-activity.fit")[0].fields.origin_device == "Garmin Edge 530"
    assert _workouts("event_timestamp.fit")[0].fields.origin_device == "Garmin Forerunner 735XT"
    bolt = _workouts("quirks/elemnt-bolt-no-application-id-inside-developer-data-id.fit")[0]
    assert bolt.fields.origin_device == "Wahoo ELEMNT BOLT"
    assert bolt.fields.details["device"]["serial"] == 1130163200


def test_developer_fields_are_summarised() -> None:
    (stryd,) = _workouts("developer-types-sample.fit")
    counts = stryd.fields.details["developer_fields"]["fields"]["record"]
    assert counts["Form Power"] == 3424 and counts["Leg Spring Stiffness"] == 3424


def test_device_relative_files_are_anchored_and_marked_approximate() -> None:
    (run,) = _workouts("compressed-speed-distance.fit")
    assert run.fields.details["time_reference"]["approximate"] is True
    assert run.fields.tz_offset_min is None and run.fields.start_at.year == 2012
    assert run.external_id == "garmin-fr70-1215347-r17217864:0"


@pytest.mark.parametrize("name", sorted(NO_SESSION))
def test_files_without_sessions_give_one_salvaged_workout(name: str) -> None:
    duration, records = NO_SESSION[name]
    (workout,) = _workouts(name)
    assert workout.fields.details["salvaged"] is True
    assert workout.fields.duration_s == _seconds(duration)
    assert workout.fields.samples is not None and len(workout.fields.samples["t"]) == records


@pytest.mark.parametrize("name", sorted(NOT_ACTIVITIES))
def test_non_activity_files_say_what_they_are(name: str) -> None:
    with pytest.raises(NotAnActivityError) as caught:
        _workouts(name)
    assert caught.value.file_type == NOT_ACTIVITIES[name]


def test_quirk_elemnt_bolt_without_application_id_is_a_normal_ride() -> None:
    (ride,) = _workouts("quirks/elemnt-bolt-no-application-id-inside-developer-data-id.fit")
    assert ride.fields.sport == "ride" and ride.fields.duration_s == 140.0
    assert "charge" in json.dumps(ride.fields.details["developer_fields"])


def test_quirk_coros_misaligned_fields_follows_the_decoder_decision() -> None:
    data = (FIXTURES / "quirks/coros-pace-2-cycling-misaligned-fields.fit").read_bytes()
    try:
        fit = decode(data)
    except FitDecodeError:
        return  # the decoder refuses it; tests/fit/test_conformance_decoder.py pins that
    (ride,) = workouts_of(fit, sha256=hashlib.sha256(data).hexdigest())
    assert ride.fields.sport == "ride" and ride.fields.origin_device == "COROS PACE 2"
    assert ride.fields.duration_s == _seconds("3:31:59")
