"""whoop.mapping: every field, every score state, days, naps and the daily merge."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from aurora_ingest.records.rules import SPORTS
from aurora_ingest.whoop.mapping import (
    WHOOP_SPORT_IDS,
    WHOOP_SPORTS,
    WhoopMappingError,
    cycle_day,
    daily_external_id,
    map_recovery,
    map_sleep,
    map_workout,
    merge_daily,
    offset_minutes,
    recovery_external_id,
    sleep_day,
    sleep_external_id,
    sport_of,
    utc,
    workout_external_id,
)
from aurora_ingest.whoop.schemas import Cycle, Recovery, Sleep, Workout

W = Any


def test_scored_workout_maps_every_score_field(w: W) -> None:
    fields = map_workout(Workout.model_validate(w.workout()))
    assert fields.sport == "run"
    assert fields.start_at == datetime(2022, 4, 24, 12, 0, tzinfo=UTC)
    assert fields.end_at == datetime(2022, 4, 24, 13, 0, tzinfo=UTC)
    assert fields.duration_s == 3600.0
    assert fields.tz_offset_min == -300
    assert fields.origin_device is None  # WHOOP recorded it itself
    assert fields.metrics == {
        "strain": 8.2463,
        "avg_hr": 123.0,
        "max_hr": 146.0,
        "energy_kj": 1569.34033203125,
        "distance_m": 1772.77035916,
        "elevation_gain_m": 46.64384460449,
        "altitude_change_m": -0.781372010707855,
        "percent_recorded": 100.0,
        "hr_zone_0_s": 300.0,
        "hr_zone_1_s": 600.0,
        "hr_zone_2_s": 900.0,
        "hr_zone_3_s": 900.0,
        "hr_zone_4_s": 600.0,
        "hr_zone_5_s": 300.0,
    }
    assert fields.details == {"score_state": "SCORED", "provider_sport": "running", "v1_id": 1043}
    assert fields.samples is None


@pytest.mark.parametrize("state", ["PENDING_SCORE", "UNSCORABLE"])
def test_unscored_workout_keeps_timing_without_score_metrics(w: W, state: str) -> None:
    fields = map_workout(Workout.model_validate(w.unscored(w.workout(), state)))
    assert fields.metrics == {}
    assert fields.details["score_state"] == state
    assert fields.duration_s == 3600.0
    assert fields.sport == "run"


def test_a_score_is_ignored_unless_the_state_says_scored(w: W) -> None:
    body = w.workout(score_state="PENDING_SCORE")  # score present but not final
    assert map_workout(Workout.model_validate(body)).metrics == {}


def test_partial_score_keeps_only_what_is_there(w: W) -> None:
    body = w.workout(score={"strain": 3.1, "average_heart_rate": 101})
    fields = map_workout(Workout.model_validate(body))
    assert fields.metrics == {"strain": 3.1, "avg_hr": 101.0}


def test_workout_ending_before_it_starts_is_refused(w: W) -> None:
    body = w.workout(start="2022-04-24T13:00:00Z", end="2022-04-24T13:00:00Z")
    with pytest.raises(WhoopMappingError):
        map_workout(Workout.model_validate(body))


@pytest.mark.parametrize(
    ("name", "sport"),
    [
        ("running", "run"),
        ("Running", "run"),
        ("cycling", "ride"),
        ("spin", "ride"),
        ("mountain-biking", "mountain_bike"),
        ("mountain_biking", "mountain_bike"),
        ("swimming", "swim"),
        ("walking", "walk"),
        ("hiking/rucking", "hike"),
        ("rowing", "row"),
        ("weightlifting", "strength"),
        ("functional-fitness", "strength"),
        ("yoga", "yoga"),
        ("skiing", "ski"),
        ("cross country skiing", "nordic_ski"),
        ("elliptical", "elliptical"),
        ("pickleball", "other"),
        ("activity", "other"),
    ],
)
def test_sport_names(name: str, sport: str) -> None:
    assert sport_of(name, None) == (sport, name)


def test_unknown_sport_is_other_with_the_provider_label_kept(w: W) -> None:
    fields = map_workout(Workout.model_validate(w.workout(sport_name="Underwater Hockey")))
    assert fields.sport == "other"
    assert fields.details["provider_sport"] == "Underwater Hockey"


def test_sport_id_is_the_fallback_when_no_name_comes(w: W) -> None:
    body = w.workout(sport_id=57)
    body.pop("sport_name")
    fields = map_workout(Workout.model_validate(body))
    assert fields.sport == "mountain_bike"
    assert fields.details["provider_sport"] == "sport_id:57"
    assert sport_of(None, 999) == ("other", "sport_id:999")
    assert sport_of("  ", None) == ("other", None)
    assert sport_of(None, None) == ("other", None)


def test_every_mapped_sport_is_an_aurora_sport() -> None:
    assert set(WHOOP_SPORTS.values()) <= set(SPORTS)
    assert set(WHOOP_SPORT_IDS.values()) <= set(SPORTS)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("-05:00", -300),
        ("+05:30", 330),
        ("+0545", 345),
        ("Z", 0),
        ("z", 0),
        ("+14:00", 840),
        ("-12:00", -720),
        ("+14:01", None),
        ("-12:30", None),
        ("+05:60", None),
        ("05:00", None),
        ("UTC", None),
        ("", None),
        (None, None),
    ],
)
def test_offsets(text: str | None, minutes: int | None) -> None:
    assert offset_minutes(text) == minutes


def test_unusable_offset_keeps_the_workout_without_one(w: W) -> None:
    fields = map_workout(Workout.model_validate(w.workout(timezone_offset="Mars/Olympus")))
    assert fields.tz_offset_min is None


def test_naive_times_are_read_as_utc(w: W) -> None:
    body = w.workout(start="2022-04-24T12:00:00", end="2022-04-24T12:30:00")
    fields = map_workout(Workout.model_validate(body))
    assert fields.start_at == datetime(2022, 4, 24, 12, 0, tzinfo=UTC)
    assert utc(datetime(2022, 1, 1)) == datetime(2022, 1, 1, tzinfo=UTC)


def test_external_ids_name_the_kind() -> None:
    assert workout_external_id("abc") == "workout:abc"
    assert sleep_external_id("abc") == "sleep:abc"
    assert recovery_external_id("abc") == "recovery:abc"
    assert daily_external_id(93845) == "daily:93845"


def test_scored_sleep_maps_stages_need_and_scores(w: W) -> None:
    fields = map_sleep(Sleep.model_validate(w.sleep()))
    assert fields.kind == "sleep"
    # Ends 05:25 local (-05:00) on the 24th: the night counts for the morning it ends on.
    assert fields.date == date(2022, 4, 24)
    assert fields.tz_offset_min == -300
    assert fields.metrics["nap"] == 0.0
    assert fields.metrics["in_bed_s"] == pytest.approx(30272.735)
    assert fields.metrics["awake_s"] == pytest.approx(1403.507)
    assert fields.metrics["no_data_s"] == 0.0
    assert fields.metrics["light_sleep_s"] == pytest.approx(14905.851)
    assert fields.metrics["deep_sleep_s"] == pytest.approx(6630.370)
    assert fields.metrics["rem_sleep_s"] == pytest.approx(5879.573)
    assert fields.metrics["asleep_s"] == pytest.approx(14905.851 + 6630.370 + 5879.573)
    assert fields.metrics["sleep_cycles"] == 3.0
    assert fields.metrics["disturbances"] == 12.0
    assert fields.metrics["respiratory_rate"] == 16.11328125
    assert fields.metrics["sleep_performance_pct"] == 98.0
    assert fields.metrics["sleep_consistency_pct"] == 90.0
    assert fields.metrics["sleep_efficiency_pct"] == 91.69533848
    # The nap component is negative by design and lowers the need.
    assert fields.metrics["sleep_need_s"] == pytest.approx(
        (27395716 + 352230 + 208595 - 12312) / 1000
    )
    assert fields.details["sleep_need"]["from_recent_nap_s"] == pytest.approx(-12.312)
    assert fields.details["nap"] is False
    assert fields.details["cycle_id"] == w.CYCLE_ID
    assert fields.details["score_state"] == "SCORED"
    assert fields.origin_device is None


def test_nap_is_flagged_and_kept(w: W) -> None:
    fields = map_sleep(Sleep.model_validate(w.nap()))
    assert fields.kind == "sleep"
    assert fields.metrics["nap"] == 1.0
    assert fields.details["nap"] is True
    assert fields.date == date(2022, 4, 24)  # 14:40 local


@pytest.mark.parametrize("state", ["PENDING_SCORE", "UNSCORABLE"])
def test_unscored_sleep_has_only_the_nap_flag(w: W, state: str) -> None:
    fields = map_sleep(Sleep.model_validate(w.unscored(w.sleep(), state)))
    assert fields.metrics == {"nap": 0.0}
    assert fields.details["score_state"] == state
    assert "sleep_need" not in fields.details


def test_sleep_without_stages_or_need_keeps_the_percentages(w: W) -> None:
    body = w.sleep(score={"sleep_performance_percentage": 80.0})
    fields = map_sleep(Sleep.model_validate(body))
    assert fields.metrics == {"nap": 0.0, "sleep_performance_pct": 80.0}


def test_sleep_with_partial_stages_has_no_asleep_total(w: W) -> None:
    body = w.sleep(score={"stage_summary": {"total_light_sleep_time_milli": 1000}})
    fields = map_sleep(Sleep.model_validate(body))
    assert fields.metrics == {"nap": 0.0, "light_sleep_s": 1.0}


def test_sleep_in_progress_counts_for_the_day_it_started(w: W) -> None:
    sleep = Sleep.model_validate(w.sleep(end=None))
    assert map_sleep(sleep).end_at is None
    assert sleep_day(sleep) == date(2022, 4, 23)  # 21:25 local on the 23rd


def test_sleep_without_cycle_has_no_cycle_detail(w: W) -> None:
    assert "cycle_id" not in map_sleep(Sleep.model_validate(w.sleep(cycle_id=None))).details


def test_recovery_takes_its_cycles_day_and_timing(w: W) -> None:
    cycle = Cycle.model_validate(w.cycle())
    fields = map_recovery(Recovery.model_validate(w.recovery()), cycle)
    assert fields.kind == "recovery"
    assert fields.date == date(2022, 4, 24)
    assert fields.start_at == datetime(2022, 4, 24, 2, 25, 44, 774000, tzinfo=UTC)
    assert fields.end_at == datetime(2022, 4, 25, 3, 10, tzinfo=UTC)
    assert fields.metrics == {
        "recovery_score": 44.0,
        "resting_hr": 64.0,
        "hrv_rmssd_ms": 31.813562,
        "spo2_pct": 95.6875,
        "skin_temp_c": 33.7,
    }
    assert fields.details == {
        "score_state": "SCORED",
        "cycle_id": w.CYCLE_ID,
        "sleep_id": w.SLEEP_ID,
        "user_calibrating": False,
    }


def test_recovery_of_a_whoop_3_has_no_spo2_or_skin_temperature(w: W) -> None:
    body = w.recovery(score={"recovery_score": 70, "resting_heart_rate": 50, "hrv_rmssd_milli": 80})
    fields = map_recovery(Recovery.model_validate(body), Cycle.model_validate(w.cycle()))
    assert fields.metrics == {"recovery_score": 70.0, "resting_hr": 50.0, "hrv_rmssd_ms": 80.0}
    assert "user_calibrating" not in fields.details


@pytest.mark.parametrize("state", ["PENDING_SCORE", "UNSCORABLE"])
def test_unscored_recovery_keeps_the_record(w: W, state: str) -> None:
    body = w.unscored(w.recovery(), state)
    fields = map_recovery(Recovery.model_validate(body), Cycle.model_validate(w.cycle()))
    assert fields.metrics == {}
    assert fields.details["score_state"] == state


def test_recovery_of_another_cycle_is_refused(w: W) -> None:
    with pytest.raises(WhoopMappingError):
        map_recovery(
            Recovery.model_validate(w.recovery(cycle_id=1)), Cycle.model_validate(w.cycle())
        )


@pytest.mark.parametrize(
    ("start", "offset", "day"),
    [
        ("2022-04-24T02:25:44Z", "-05:00", date(2022, 4, 24)),  # 21:25 on the 23rd
        ("2022-04-24T05:30:00Z", "-05:00", date(2022, 4, 24)),  # 00:30 on the 24th
        ("2022-04-23T20:00:00Z", "+02:00", date(2022, 4, 24)),  # 22:00 on the 23rd
        ("2022-04-23T09:00:00Z", "+02:00", date(2022, 4, 23)),  # 11:00: still that day
        ("2022-04-23T21:59:00Z", "+02:00", date(2022, 4, 24)),  # 23:59 on the 23rd
        ("2022-04-23T22:30:00Z", "+02:00", date(2022, 4, 24)),  # 00:30 on the 24th
        ("2022-04-24T10:00:00Z", "Z", date(2022, 4, 24)),  # a late sleeper's 10:00
        ("2022-04-24T13:00:00Z", "Z", date(2022, 4, 25)),  # a day sleeper's 13:00
    ],
)
def test_cycle_day_is_the_morning_after_sleep_onset(
    w: W, start: str, offset: str, day: date
) -> None:
    assert cycle_day(Cycle.model_validate(w.cycle(start=start, timezone_offset=offset))) == day


def test_daily_merges_cycle_recovery_and_main_sleep(w: W) -> None:
    fields = merge_daily(
        Cycle.model_validate(w.cycle()),
        Recovery.model_validate(w.recovery()),
        Sleep.model_validate(w.sleep()),
    )
    assert fields.kind == "daily"
    assert fields.date == date(2022, 4, 24)
    assert fields.tz_offset_min == -300
    assert fields.metrics["day_strain"] == 5.2951527
    assert fields.metrics["energy_kj"] == 8288.297
    assert fields.metrics["avg_hr"] == 68.0
    assert fields.metrics["max_hr"] == 141.0
    assert fields.metrics["recovery_score"] == 44.0
    assert fields.metrics["hrv_rmssd_ms"] == 31.813562
    assert fields.metrics["resting_hr"] == 64.0
    assert fields.metrics["sleep_performance_pct"] == 98.0
    assert fields.metrics["asleep_s"] == pytest.approx(27415.794)
    assert "disturbances" not in fields.metrics  # the day view keeps the headline numbers
    assert fields.details["parts"] == ["cycle", "recovery", "sleep"]
    assert fields.details["score_state"] == {
        "cycle": "SCORED",
        "recovery": "SCORED",
        "sleep": "SCORED",
    }
    assert fields.details["sleep_id"] == w.SLEEP_ID
    assert fields.details["recovery_sleep_id"] == w.SLEEP_ID
    assert fields.details["cycle_id"] == w.CYCLE_ID


def test_daily_never_takes_a_nap_or_another_cycles_parts(w: W) -> None:
    cycle = Cycle.model_validate(w.cycle())
    fields = merge_daily(
        cycle,
        Recovery.model_validate(w.recovery(cycle_id=1)),
        Sleep.model_validate(w.nap()),
    )
    assert fields.details["parts"] == ["cycle"]
    assert "recovery_score" not in fields.metrics
    assert "asleep_s" not in fields.metrics
    other = merge_daily(cycle, None, Sleep.model_validate(w.sleep(cycle_id=1)))
    assert other.details["parts"] == ["cycle"]


def test_daily_of_a_cycle_in_progress_without_recovery(w: W) -> None:
    body = w.unscored(w.cycle(end=None))
    fields = merge_daily(Cycle.model_validate(body), None, None)
    assert fields.end_at is None
    assert fields.metrics == {}
    assert fields.details["parts"] == ["cycle"]
    assert fields.details["score_state"] == {"cycle": "PENDING_SCORE"}


def test_daily_with_unscored_parts_keeps_what_is_scored(w: W) -> None:
    fields = merge_daily(
        Cycle.model_validate(w.cycle()),
        Recovery.model_validate(w.unscored(w.recovery(), "UNSCORABLE")),
        Sleep.model_validate(w.unscored(w.sleep())),
    )
    assert set(fields.metrics) == {"day_strain", "energy_kj", "avg_hr", "max_hr"}
    assert fields.details["score_state"] == {
        "cycle": "SCORED",
        "recovery": "UNSCORABLE",
        "sleep": "PENDING_SCORE",
    }


def test_daily_of_a_cycle_that_ends_before_it_starts_is_refused(w: W) -> None:
    body = w.cycle(end="2022-04-24T02:25:44.774Z")
    with pytest.raises(WhoopMappingError):
        merge_daily(Cycle.model_validate(body), None, None)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (Workout, {"id": "not-a-uuid"}),
        (Workout, {"score": {"average_heart_rate": "NaN"}}),
        (Workout, {"score": {"strain": 99}}),
        (Workout, {"score": {"zone_durations": {"zone_one_milli": -5}}}),
        (Sleep, {"score": {"sleep_efficiency_percentage": 101}}),
        (Recovery, {"sleep_id": 5}),
        (Cycle, {"id": "abc"}),
    ],
)
def test_implausible_payloads_fail_validation(w: W, model: Any, body: dict[str, Any]) -> None:
    base = {Workout: w.workout, Sleep: w.sleep, Recovery: w.recovery, Cycle: w.cycle}[model]()
    base.update(body)
    with pytest.raises(ValidationError):
        model.model_validate(base)


def test_unknown_fields_and_future_score_states_are_tolerated(w: W) -> None:
    body = w.workout(score_state="RESCORING", brand_new_field={"x": 1})
    fields = map_workout(Workout.model_validate(body))
    assert fields.metrics == {}
    assert fields.details["score_state"] == "RESCORING"
