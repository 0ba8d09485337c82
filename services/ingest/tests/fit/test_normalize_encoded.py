"""The full path on FIT files the tests write themselves: encoder -> decode -> workouts_of."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from aurora_ingest.fit.decoder import decode
from aurora_ingest.fit.normalize import FitWorkout, NotAnActivityError, workouts_of
from aurora_ingest.records.rules import samples_problem

from .encoder import FitEncoder, SessionSpec, activity_file, chain

START = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)


def _run(data: bytes) -> list[FitWorkout]:
    return workouts_of(decode(data), sha256=hashlib.sha256(data).hexdigest())


def test_a_generated_ride_round_trips_into_one_workout() -> None:
    (workout,) = _run(activity_file(start=START, sessions=[SessionSpec("cycling", "road", 90)]))
    f = workout.fields
    assert (f.sport, f.start_at, f.duration_s, f.tz_offset_min) == ("ride", START, 90.0, 60)
    assert f.origin_device == "Garmin Edge 530"
    assert workout.external_id == f"garmin-edge_530-3900000001-{int(START.timestamp())}:0"
    assert f.samples is not None and samples_problem(f.samples) is None
    assert len(f.samples["t"]) == 90 and f.samples["t"][-1] == 89.0
    assert f.samples["hr"][:3] == [120, 121, 122] and f.samples["power"][0] == 200
    assert f.samples["lat"][0] == pytest.approx(498_000_000 * 180 / 2**31)
    assert f.metrics["distance_m"] == 270.0 and f.metrics["avg_hr"] == 135.0
    assert len(f.details["laps"]) == 1


def test_a_generated_triathlon_gives_a_workout_per_leg_transitions_kept() -> None:
    legs = [
        SessionSpec("swimming", "open_water", 40),
        SessionSpec("transition", "generic", 10),
        SessionSpec("cycling", "road", 60),
        SessionSpec("transition", "generic", 5),
        SessionSpec("running", "generic", 30),
    ]
    workouts = _run(activity_file(start=START, sessions=legs))
    assert [w.fields.sport for w in workouts] == ["swim", "other", "ride", "other", "run"]
    assert [w.fields.details["transition"] for w in workouts] == [False, True, False, True, False]
    assert [w.fields.start_at - START for w in workouts] == [
        timedelta(seconds=s) for s in (0, 40, 50, 110, 115)
    ]
    assert [len(w.fields.samples["t"]) for w in workouts if w.fields.samples] == [40, 10, 60, 5, 30]


def test_generated_hrv_and_developer_fields_are_kept() -> None:
    (workout,) = _run(
        activity_file(
            start=START, sessions=[SessionSpec(seconds=20)], hrv=True, developer_field=True
        )
    )
    assert workout.fields.details["hrv_rr_s"] == [0.5, 0.52] * 20
    assert workout.fields.details["developer_fields"]["fields"]["record"] == {"Form Power": 20}


def test_an_activity_chained_with_another_file_still_normalises() -> None:
    settings = FitEncoder()
    settings.message("file_id", {"type": "settings", "manufacturer": "garmin", "product": 3121})
    data = chain(activity_file(start=START, sessions=[SessionSpec(seconds=15)]), settings.build())
    (workout,) = _run(data)
    assert workout.fields.duration_s == 15.0


def test_a_generated_settings_file_is_not_an_activity() -> None:
    settings = FitEncoder()
    settings.message("file_id", {"type": "settings", "manufacturer": "garmin", "product": 3121})
    with pytest.raises(NotAnActivityError) as caught:
        _run(settings.build())
    assert caught.value.file_type == "settings"
