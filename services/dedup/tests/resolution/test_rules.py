"""The contract rule between main recorders, primary election and its explanations."""

from __future__ import annotations

import uuid

import pytest

from aurora_dedup.resolution.rules import resolve, same_workout

from .workout_factory import T0, partition, reasons, rec


def test_same_sport_with_60_percent_overlap_is_one_session() -> None:
    a = rec("garmin", minutes=100)
    b = rec("polar", start_min=40, minutes=100)  # overlap 60 of 100
    (group,) = resolve([a, b])
    assert group.primary.record == a
    match = same_workout(a, b)
    assert match is not None and match.describe() == "60 % overlap, same sport ride"


def test_40_percent_overlap_between_main_recorders_stays_apart() -> None:
    a = rec("garmin", minutes=100)
    b = rec("polar", start_min=60, minutes=100)  # overlap 40 of 100
    assert len(resolve([a, b])) == 2
    assert same_workout(a, b) is None


def test_between_main_recorders_overlap_is_measured_against_the_longer_record() -> None:
    long = rec("garmin", minutes=200)
    short = rec("polar", start_min=10, minutes=90)  # fully inside, but 45 % of the longer
    assert len(resolve([long, short])) == 2
    exactly_half = rec("polar", start_min=10, minutes=100)
    assert len(resolve([long, exactly_half])) == 1


def test_parent_and_child_sports_match_siblings_do_not() -> None:
    gravel = rec("garmin", sport="gravel_ride")
    generic = rec("polar", start_min=2, sport="ride")
    assert len(resolve([gravel, generic])) == 1
    other = rec("strava", start_min=3, sport="other", device="Strava iPhone App")
    assert len(resolve([gravel, other])) == 1
    mtb = rec("polar", start_min=2, sport="mountain_bike_ride")
    assert len(resolve([gravel, mtb])) == 2
    (group,) = resolve([gravel, generic])
    assert reasons(group)[generic.id].endswith("; gravel_ride is a kind of ride")


def test_missing_end_uses_start_plus_duration() -> None:
    garmin = rec("garmin", minutes=60)
    strava = rec("strava", minutes=None, duration_min=60, device="Garmin Edge 530")
    assert len(resolve([garmin, strava])) == 1
    short_polar = rec("polar", minutes=None, duration_min=20)  # 20 of 60 minutes: apart
    assert len(resolve([garmin, short_polar])) == 2
    assert strava.span_s == 3600


def test_strava_from_a_garmin_device_outranks_whoop() -> None:
    whoop = rec("whoop", minutes=58, device="WHOOP 4.0")
    strava = rec("strava", minutes=60, device="Garmin Edge 530")
    (group,) = resolve([whoop, strava])
    assert group.primary.record == strava
    assert group.primary.recorded_by == "garmin" and group.primary.priority == 60
    assert group.reason == (
        "primary: Garmin Edge 530 recording via strava has priority 60; "
        "outranks WHOOP 4.0 detection (30)"
    )
    assert reasons(group)[whoop.id] == (
        f"duplicate of {strava.id}: Garmin Edge 530 recording via strava outranks the "
        "WHOOP 4.0 detection: priority 60 > 30, overlap 96%; "
        "auto-detected same start, ended 2 min early"
    )


def test_priority_is_the_recording_device_not_the_carrier() -> None:
    strava_from_whoop = rec("strava", minutes=60, device="WHOOP")
    garmin = rec("garmin", minutes=60)
    (group,) = resolve([strava_from_whoop, garmin])
    assert group.primary.record == garmin
    assert (
        group.reason
        == "primary: garmin recording has priority 60; outranks WHOOP detection via strava (30)"
    )


def test_priority_tie_goes_to_the_shorter_record() -> None:
    garmin = rec("garmin", minutes=62)
    strava = rec("strava", minutes=60, device="Garmin Edge 1040")
    whoop = rec("whoop", minutes=61)
    (group,) = resolve([garmin, strava, whoop])
    assert group.primary.record == strava
    assert group.reason == (
        "primary: Garmin Edge 1040 recording via strava has priority 60, ties with garmin "
        "recording: shorter record wins (3600 s vs 3720 s); outranks whoop detection (30)"
    )
    assert reasons(group)[garmin.id].startswith(
        f"duplicate of {strava.id}: Garmin Edge 1040 recording via strava ties at priority 60 "
        "and is shorter (3600 s vs 3720 s), overlap 96%"
    )
    assert [d.rank for d in group.duplicates] == [1, 2]  # garmin, then whoop


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


def test_main_recorders_chain_into_one_session() -> None:
    a = rec("garmin", start_min=0, minutes=100)
    b = rec("polar", start_min=45, minutes=100)  # 55 % with a
    c = rec("wahoo", start_min=90, minutes=100)  # 55 % with b, 10 % with a
    (group,) = resolve([c, a, b])
    assert group.primary.record == a
    assert reasons(group)[c.id] == (
        f"duplicate of {a.id}: garmin recording outranks the wahoo recording: "
        "priority 60 > 40, overlap 10%; same sport ride"
    )


def test_groups_come_ordered_by_start_and_separate_times_stay_apart() -> None:
    morning = rec("garmin", start_min=0)
    evening = rec("garmin", start_min=600, sport="ride")
    groups = resolve([evening, morning])
    assert [g.primary.record for g in groups] == [morning, evening]
    assert groups[0].primary.record.start == T0


def test_zero_length_records_never_match() -> None:
    a = rec("garmin", minutes=0)
    b = rec("polar", minutes=0)
    assert len(resolve([a, b])) == 2


def test_unknown_sources_rank_last_and_still_group() -> None:
    garmin = rec("garmin")
    odd = rec("coros", start_min=1)
    (group,) = resolve([odd, garmin])
    assert group.primary.record == garmin
    assert group.duplicates[0].priority == -1


def test_same_id_with_different_content_is_refused() -> None:
    a = rec("garmin")
    b = rec("whoop", rid=a.id)
    with pytest.raises(ValueError, match="given twice"):
        resolve([a, b])
    assert resolve([a, a]) == resolve([a])


def test_custom_priorities_reorder_the_election() -> None:
    garmin = rec("garmin")
    whoop = rec("whoop", start_min=1, minutes=58)
    (group,) = resolve([garmin, whoop], {"whoop": 90, "garmin": 10})
    assert group.primary.record == whoop
    assert partition(resolve([garmin, whoop])) == partition([group])
