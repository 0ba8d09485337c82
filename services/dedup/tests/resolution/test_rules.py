"""Grouping and primary election of DESIGN.md §3, on hand-made records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from aurora_dedup.resolution.rules import WorkoutRecord, resolve, same_workout

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def rec(
    source: str = "garmin",
    *,
    start_min: float = 0,
    minutes: float | None = 60,
    duration_min: float | None = None,
    sport: str = "ride",
    device: str | None = None,
    external_id: str | None = None,
    rid: uuid.UUID | None = None,
) -> WorkoutRecord:
    start = T0 + timedelta(minutes=start_min)
    end = None if minutes is None else start + timedelta(minutes=minutes)
    duration = duration_min if duration_min is not None else (minutes or 0)
    return WorkoutRecord(
        id=rid or uuid.uuid4(),
        source=source,
        external_id=external_id or uuid.uuid4().hex,
        origin_device=device,
        sport=sport,
        start=start,
        end=end,
        duration_s=duration * 60,
    )


def ids(group_records: tuple[WorkoutRecord, ...]) -> set[uuid.UUID]:
    return {r.id for r in group_records}


def test_same_sport_with_60_percent_overlap_is_one_session() -> None:
    a = rec("garmin", minutes=100)
    b = rec("whoop", start_min=40, minutes=100)  # overlap 60 of 100
    groups = resolve([a, b])
    assert len(groups) == 1
    assert groups[0].primary.record == a
    match = same_workout(a, b)
    assert match is not None and match.describe() == "60 % overlap, same sport ride"


def test_40_percent_overlap_stays_apart() -> None:
    a = rec("garmin", minutes=100)
    b = rec("whoop", start_min=60, minutes=100)  # overlap 40 of 100
    assert len(resolve([a, b])) == 2
    assert same_workout(a, b) is None


def test_overlap_is_measured_against_the_longer_record() -> None:
    long = rec("garmin", minutes=200)
    short = rec("whoop", start_min=10, minutes=90)  # fully inside, but 45 % of the longer
    assert len(resolve([long, short])) == 2
    exactly_half = rec("whoop", start_min=10, minutes=100)
    assert len(resolve([long, exactly_half])) == 1


def test_brick_ride_then_run_stays_apart() -> None:
    ride = rec("garmin", minutes=90, sport="ride")
    run = rec("garmin", start_min=88, minutes=40, sport="run")
    whoop_ride = rec("whoop", start_min=1, minutes=88, sport="ride")
    whoop_run = rec("whoop", start_min=90, minutes=37, sport="run")
    groups = resolve([run, whoop_run, ride, whoop_ride])
    assert [ids(g.records) for g in groups] == [{ride.id, whoop_ride.id}, {run.id, whoop_run.id}]


def test_parent_and_child_sports_match_siblings_do_not() -> None:
    gravel = rec("garmin", sport="gravel_ride")
    generic = rec("whoop", start_min=2, sport="ride")
    assert len(resolve([gravel, generic])) == 1
    other = rec("oura", start_min=3, sport="other")
    assert len(resolve([gravel, other])) == 1
    mtb = rec("whoop", start_min=2, sport="mountain_bike_ride")
    assert len(resolve([gravel, mtb])) == 2
    reason = resolve([gravel, generic])[0].duplicates[0].reason
    assert "gravel_ride is a kind of ride" in reason


def test_missing_end_uses_start_plus_duration() -> None:
    garmin = rec("garmin", minutes=60)
    strava = rec("strava", minutes=None, duration_min=60, device="Garmin Edge 530")
    assert len(resolve([garmin, strava])) == 1
    short_polar = rec("polar", minutes=None, duration_min=20)  # 20 of 60 minutes: apart
    assert len(resolve([garmin, short_polar])) == 2
    assert strava.span_end == T0 + timedelta(minutes=60)


def test_strava_from_a_garmin_device_outranks_whoop() -> None:
    whoop = rec("whoop", minutes=58, device="WHOOP 4.0")
    strava = rec("strava", minutes=60, device="Garmin Forerunner 965")
    (group,) = resolve([whoop, strava])
    assert group.primary.record == strava
    assert group.reason == "primary: garmin via strava (60) outranks whoop (30)"
    (dup,) = group.duplicates
    assert dup.reason.startswith(f"duplicate of {strava.id}: 96 % overlap, same sport ride")
    assert dup.reason.endswith("garmin via strava (60) outranks whoop (30)")


def test_priority_is_the_recording_device_not_the_carrier() -> None:
    strava_from_whoop = rec("strava", minutes=60, device="WHOOP")
    garmin = rec("garmin", minutes=60)
    (group,) = resolve([strava_from_whoop, garmin])
    assert group.primary.record == garmin
    assert group.reason == "primary: garmin (60) outranks whoop via strava (30)"


def test_priority_tie_goes_to_the_shorter_record() -> None:
    garmin = rec("garmin", minutes=62)
    strava = rec("strava", minutes=60, device="Garmin Edge 1040")
    whoop = rec("whoop", minutes=61)
    (group,) = resolve([garmin, strava, whoop])
    assert group.primary.record == strava
    assert group.reason == (
        "primary: garmin via strava (60) ties with garmin (60), "
        "shorter record wins (3600 s vs 3720 s); outranks whoop (30)"
    )
    by_id = {d.record.id: d.reason for d in group.duplicates}
    assert by_id[garmin.id].endswith("same priority (60), the primary is shorter")


def test_full_tie_breaks_by_source_then_external_id_then_id() -> None:
    a = rec("strava", external_id="200", device="Garmin")
    b = rec("garmin", external_id="300")
    c = rec("garmin", external_id="100")
    (group,) = resolve([a, b, c])
    assert group.primary.record == c  # garmin < strava; "100" < "300"
    assert "same length, first by source, external id and record id" in group.reason
    low, high = sorted([uuid.uuid4(), uuid.uuid4()], key=str)
    twins = [rec("garmin", external_id="1", rid=high), rec("garmin", external_id="1", rid=low)]
    assert resolve(twins)[0].primary.record.id == low


def test_a_later_higher_priority_record_takes_over() -> None:
    whoop = rec("whoop")
    assert resolve([whoop])[0].primary.record == whoop
    assert resolve([whoop])[0].reason == "primary: only record of this session"
    garmin = rec("garmin", start_min=1)
    assert resolve([whoop, garmin])[0].primary.record == garmin


def test_groups_are_connected_components_and_explain_the_chain() -> None:
    a = rec("garmin", start_min=0, minutes=100)
    b = rec("whoop", start_min=45, minutes=100)  # 55 % with a
    c = rec("oura", start_min=90, minutes=100)  # 55 % with b, 10 % with a
    (group,) = resolve([c, a, b])
    assert group.primary.record == a
    reasons = {d.record.id: d.reason for d in group.duplicates}
    assert reasons[b.id].startswith(f"duplicate of {a.id}: 55 % overlap")
    assert reasons[c.id].startswith(
        f"duplicate of {a.id}: same session through {b.id} (55 % overlap, same sport ride)"
    )


def test_groups_come_ordered_by_start_and_separate_times_stay_apart() -> None:
    morning = rec("garmin", start_min=0)
    evening = rec("garmin", start_min=600, sport="ride")
    groups = resolve([evening, morning])
    assert [g.primary.record for g in groups] == [morning, evening]


def test_zero_length_records_never_match() -> None:
    a = rec("garmin", minutes=0)
    b = rec("whoop", minutes=0)
    assert len(resolve([a, b])) == 2


def test_same_id_with_different_content_is_refused() -> None:
    a = rec("garmin")
    b = rec("whoop", rid=a.id)
    with pytest.raises(ValueError, match="given twice"):
        resolve([a, b])
    assert resolve([a, a]) == resolve([a])
