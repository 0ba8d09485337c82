"""The rules beyond the plain 50 % overlap, each on a hand-built case of a public scenario.

README §3: segmentation follows the main recorder. Partial and spanning records from
auto-detecting wearables join the main recorder's session they overlap most; legs the
main recorder saved apart, and sessions at different times, stay apart.
"""

from __future__ import annotations

from aurora_dedup.resolution.rules import resolve

from .workout_factory import partition, reasons, rec


def test_battery_died_short_whoop_wholly_inside_the_ride_joins_it() -> None:
    edge = rec("garmin", minutes=150, device="Garmin Edge 1040", sport="gravel_ride")
    strava = rec("strava", minutes=None, duration_min=150, device="Garmin Edge 1040")
    whoop = rec("whoop", start_min=1, minutes=20, device="WHOOP 4.0")  # 13 % of the ride
    (group,) = resolve([whoop, edge, strava])
    assert group.primary.record == edge
    assert reasons(group)[whoop.id].endswith(
        "overlap 13%; covers part of the session (battery died, cut short or split at a stop): "
        "wholly inside, started 1 min late, ended 129 min early"
    )


def test_partial_detection_of_an_unrelated_sport_joins_only_with_a_matching_heart_rate() -> None:
    ride = rec("garmin", minutes=150, hr=130)
    run = rec("whoop", start_min=10, minutes=20, sport="run", hr=165)
    assert len(resolve([ride, run])) == 2
    relabelled = rec("whoop", start_min=10, minutes=20, sport="run", hr=133)
    assert len(resolve([ride, relabelled])) == 1


def test_late_and_early_auto_detection_joins() -> None:
    watch = rec("garmin", minutes=40, sport="run", device="Garmin Forerunner 965")
    whoop = rec("whoop", start_min=9, minutes=24, sport="run")  # 9 late, 7 early
    oura = rec("oura", start_min=12, minutes=25, sport="run")
    (group,) = resolve([watch, whoop, oura])
    assert group.primary.record == watch
    assert reasons(group)[whoop.id].endswith("auto-detected started 9 min late, ended 7 min early")
    stopped = rec("whoop", start_min=1, minutes=20, sport="run")  # 19 min early: not detection
    (group,) = resolve([watch, stopped])
    assert reasons(group)[stopped.id].endswith(
        "covers part of the session (battery died, cut short or split at a stop): "
        "wholly inside, started 1 min late, ended 19 min early"
    )


def test_generic_label_from_a_wearable_joins_any_sport() -> None:
    ride = rec("polar", minutes=90, sport="mountain_bike_ride")
    whoop = rec("whoop", start_min=2, minutes=85, sport="other")
    oura = rec("oura", start_min=8, minutes=80, sport="other")
    assert len(resolve([ride, whoop, oura])) == 1


def test_wrong_sibling_label_joins_when_inside_unless_the_heart_rate_disagrees() -> None:
    run = rec("polar", minutes=50, sport="run", hr=150)
    walk = rec("oura", start_min=6, minutes=40, sport="walk", hr=147)
    (group,) = resolve([run, walk])
    assert reasons(group)[walk.id].endswith("auto-detected as walk, but lies inside the session")
    no_hr = rec("oura", start_min=6, minutes=40, sport="walk")
    assert len(resolve([run, no_hr])) == 1
    other_hr = rec("oura", start_min=6, minutes=40, sport="walk", hr=105)
    assert len(resolve([run, other_hr])) == 2
    half_outside = rec("oura", start_min=30, minutes=40, sport="walk", hr=150)
    assert len(resolve([run, half_outside])) == 2
    walk_before_the_swim = rec("whoop", start_min=-14, minutes=15, sport="walk")
    swim = rec("garmin", minutes=40, sport="pool_swim")
    assert len(resolve([swim, walk_before_the_swim])) == 2


def test_related_session_wins_over_a_relabelled_one() -> None:
    walk = rec("garmin", minutes=30, sport="walk", hr=120)
    run = rec("polar", start_min=31, minutes=30, sport="run", hr=121)
    oura_run = rec("oura", start_min=20, minutes=35, sport="run", hr=120)
    groups = resolve([walk, run, oura_run])
    assert partition(groups) == {frozenset({walk.id}), frozenset({run.id, oura_run.id})}


def test_cafe_stop_two_whoop_workouts_join_the_one_head_unit_ride() -> None:
    bolt = rec("wahoo", minutes=180, device="Wahoo ELEMNT BOLT")
    strava = rec("strava", minutes=180, device="Wahoo ELEMNT BOLT")
    before = rec("whoop", start_min=1, minutes=95)
    after = rec("whoop", start_min=125, minutes=55)
    (group,) = resolve([after, bolt, before, strava])
    assert group.primary.record == bolt  # wahoo 40 either way, same length: the device's own
    assert "same length, the device's own record before its copies" in group.reason
    assert all(
        "split at a stop" in d.reason for d in group.duplicates if d.record.source == "whoop"
    )
    assert len(group.duplicates) == 3


def test_warm_up_saved_apart_keeps_its_own_session_and_the_whoop_joins_the_main_set() -> None:
    warm_up = rec("garmin", minutes=18, sport="run")
    main_set = rec("garmin", start_min=20, minutes=52, sport="run")
    whoop = rec("whoop", start_min=0, minutes=71, sport="run")  # spans both
    groups = resolve([whoop, main_set, warm_up])
    assert partition(groups) == {frozenset({warm_up.id}), frozenset({main_set.id, whoop.id})}
    assert reasons(groups[1])[whoop.id].endswith(
        "spans several sessions: joins the one it overlaps most"
    )


def test_triathlon_composites_join_the_leg_they_overlap_most() -> None:
    swim = rec("garmin", minutes=30, sport="open_water_swim")
    ride = rec("garmin", start_min=32, minutes=78, sport="ride")
    run = rec("garmin", start_min=112, minutes=45, sport="run")
    swim_s = rec("strava", minutes=30, sport="swim", device="Garmin Forerunner 255")
    apple = rec("apple_health", minutes=157, sport="triathlon", device="Apple Watch")
    whoop = rec("whoop", start_min=1, minutes=155, sport="triathlon")
    groups = resolve([apple, run, whoop, ride, swim, swim_s])
    assert partition(groups) == {
        frozenset({swim.id, swim_s.id}),
        frozenset({ride.id, apple.id, whoop.id}),
        frozenset({run.id}),
    }
    assert reasons(groups[1])[apple.id].endswith(
        "triathlon over several legs: joins the ride leg it overlaps most"
    )


def test_composites_alone_make_one_session() -> None:
    apple = rec("apple_health", minutes=157, sport="triathlon", device="Connect")
    whoop = rec("whoop", start_min=1, minutes=155, sport="triathlon")
    (group,) = resolve([apple, whoop])
    assert group.primary.record == apple  # Connect is Garmin's app: 60


def test_brick_legs_stay_apart_with_a_whoop_per_leg() -> None:
    ride = rec("garmin", minutes=90, sport="ride")
    run = rec("garmin", start_min=92, minutes=40, sport="run")
    whoop_ride = rec("whoop", start_min=1, minutes=88, sport="ride")
    whoop_run = rec("whoop", start_min=93, minutes=38, sport="other")
    groups = resolve([run, whoop_run, ride, whoop_ride])
    assert partition(groups) == {
        frozenset({ride.id, whoop_ride.id}),
        frozenset({run.id, whoop_run.id}),
    }


def test_sessions_at_different_times_stay_apart_even_n_hours_apart() -> None:
    morning = rec("polar", minutes=45, sport="run", distance=9000, hr=150, tz=60)
    later = rec("polar", start_min=60, minutes=44, sport="run", distance=8800, hr=149, tz=60)
    assert len(resolve([morning, later])) == 2


def test_clock_bug_record_shifted_by_the_offset_joins_its_twin() -> None:
    edge = rec("garmin", minutes=67, distance=34709.9, hr=146, tz=60)
    strava = rec(
        "strava",
        minutes=None,
        duration_min=67,
        distance=34688.4,
        hr=146,
        tz=60,
        device="Garmin Edge 1040",
    )
    health = rec(
        "apple_health", start_min=60, minutes=67, distance=34709.9, hr=146, device="Connect"
    )
    (group,) = resolve([health, edge, strava])
    assert group.primary.record != health  # same rank otherwise; the right clock wins
    assert (
        "clock shifted by 60 min: same duration, distance and heart rate"
        in (reasons(group)[health.id])
    )


def test_clock_bug_needs_the_same_duration_distance_and_heart_rate() -> None:
    polar = rec("polar", start_min=60, minutes=30, sport="run", distance=5137.8, hr=146, tz=60)
    twin = rec(
        "strava", minutes=30, sport="run", distance=5140.4, hr=146, tz=60, device="Polar Pacer Pro"
    )
    assert len(resolve([polar, twin])) == 1
    other_distance = rec("strava", minutes=30, sport="run", distance=6200, hr=146, tz=60)
    other_length = rec("strava", minutes=31, sport="run", distance=5140, hr=146, tz=60)
    other_hr = rec("strava", minutes=30, sport="run", distance=5140, hr=139, tz=60)
    nothing_to_compare = rec("strava", minutes=30, sport="run", tz=60)
    for decoy in (other_distance, other_length, other_hr, nothing_to_compare):
        assert len(resolve([polar, decoy])) == 2
    not_the_offset = rec(
        "strava", start_min=180, minutes=30, sport="run", distance=5140, hr=146, tz=60
    )
    assert len(resolve([polar, not_the_offset])) == 2  # 2 h apart, the athlete is at +1 h


def test_clock_bug_follows_a_negative_offset() -> None:
    watch = rec("garmin", start_min=300, minutes=40, sport="walk", distance=4170, hr=111, tz=-300)
    shifted = rec(
        "apple_health", minutes=40, sport="walk", distance=4171, hr=111, device="Apple Watch"
    )
    (group,) = resolve([watch, shifted])
    assert "clock shifted by -300 min" in reasons(group)[shifted.id]


def test_manual_entry_with_rounded_times_joins_the_recording() -> None:
    run = rec("polar", start_min=22, minutes=29, sport="run")
    typed = rec("manual", start_min=0, minutes=30, sport="run")
    (group,) = resolve([typed, run])
    assert reasons(group)[typed.id].endswith(
        "typed-in entry with rounded times, started 22 min early, ended 21 min early"
    )
    whoop_only = rec("whoop", start_min=0, minutes=42, sport="strength_training")
    late_entry = rec("manual", start_min=34, minutes=40, sport="strength_training")
    assert len(resolve([whoop_only, late_entry])) == 1


def test_manual_entry_joins_the_nearest_related_session_only() -> None:
    morning = rec("garmin", minutes=60, sport="run")
    evening = rec("garmin", start_min=240, minutes=60, sport="run")
    typed = rec("manual", start_min=225, minutes=60, sport="run")
    far = rec("manual", start_min=130, minutes=30, sport="run")
    other_sport = rec("manual", start_min=5, minutes=60, sport="yoga")
    groups = resolve([morning, evening, typed, far, other_sport])
    assert partition(groups) == {
        frozenset({morning.id}),
        frozenset({evening.id, typed.id}),
        frozenset({far.id}),
        frozenset({other_sport.id}),
    }


def test_copy_chain_health_copy_of_strava_inherits_what_recorded_the_strava_activity() -> None:
    edge = rec("garmin", minutes=97, device="Garmin Edge 1040")
    strava = rec("strava", minutes=None, duration_min=97, device="Garmin Edge 1040")
    health_from_strava = rec("apple_health", minutes=97, device="Strava")
    (group,) = resolve([health_from_strava, strava, edge])
    by_id = {d.record.id: d for d in (group.primary, *group.duplicates)}
    assert by_id[health_from_strava.id].recorded_by == "garmin"
    assert by_id[health_from_strava.id].priority == 60


def test_copy_chain_through_strava_to_whoop_and_the_main_recording_wins() -> None:
    watch = rec("garmin", minutes=70, sport="run", device="Garmin Forerunner 965")
    whoop = rec("whoop", start_min=1, minutes=68, sport="other", device="WHOOP 4.0")
    strava_from_whoop = rec("strava", start_min=1, minutes=68, sport="other", device="WHOOP")
    health = rec("apple_health", start_min=1, minutes=68, sport="other", device="Strava")
    (group,) = resolve([health, strava_from_whoop, whoop, watch])
    assert group.primary.record == watch
    assert {d.recorded_by for d in group.duplicates} == {"whoop"}


def test_health_copy_written_by_strava_without_its_strava_record_keeps_strava() -> None:
    health = rec("apple_health", minutes=60, device="Strava")
    whoop = rec("whoop", start_min=1, minutes=58)
    (group,) = resolve([health, whoop])
    assert group.primary.record == health and group.primary.priority == 70


def test_zwift_keeps_its_carriers_priority() -> None:
    zwift = rec("strava", start_min=2, minutes=88, sport="virtual_ride", device="Zwift")
    watch = rec("garmin", minutes=92, sport="indoor_cycling")
    health = rec("apple_health", start_min=2, minutes=88, sport="indoor_cycling", device="Zwift")
    (group,) = resolve([watch, health, zwift])
    assert group.primary.record == zwift
    assert {d.record.id: d.priority for d in group.duplicates} == {watch.id: 60, health.id: 20}


def test_dual_recording_the_watch_outranks_strava_from_the_head_unit() -> None:
    bolt = rec("wahoo", minutes=120, device="Wahoo ELEMNT BOLT")
    strava = rec("strava", minutes=120, device="Wahoo ELEMNT BOLT")
    watch = rec("garmin", start_min=1, minutes=121, device="Garmin fenix 7")
    (group,) = resolve([strava, bolt, watch])
    assert group.primary.record == watch
