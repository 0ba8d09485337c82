"""The resolution depends on the set of records only (Hypothesis)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aurora_dedup.resolution.rules import WorkoutRecord, resolve

T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
DEVICES = [None, "Garmin Edge 530", "WHOOP", "Strava iPhone App", "Polar Flow", "Zwift"]
SPORTS = ["ride", "gravel_ride", "run", "other", "mountain_bike_ride"]
SOURCES = ["strava", "garmin", "polar", "whoop", "apple_health", "manual"]


@st.composite
def records(draw: st.DrawFn) -> WorkoutRecord:
    start = T0 + timedelta(minutes=draw(st.integers(0, 240)))
    minutes = draw(st.sampled_from([0, 20, 30, 45, 60, 61, 90]))
    has_end = draw(st.booleans())
    return WorkoutRecord(
        id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        source=draw(st.sampled_from(SOURCES)),
        external_id=draw(st.sampled_from(["1", "2", "3"])),
        origin_device=draw(st.sampled_from(DEVICES)),
        sport=draw(st.sampled_from(SPORTS)),
        start=start,
        end=start + timedelta(minutes=minutes) if has_end else None,
        duration_s=minutes * 60.0,
    )


record_sets = st.lists(records(), min_size=0, max_size=12, unique_by=lambda r: r.id)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), items=record_sets)
def test_any_permutation_gives_the_same_resolution(
    data: st.DataObject, items: list[WorkoutRecord]
) -> None:
    shuffled = data.draw(st.permutations(items))
    assert resolve(shuffled) == resolve(items)


@settings(max_examples=200, deadline=None)
@given(items=record_sets)
def test_every_record_lands_in_exactly_one_group_with_a_reason(
    items: list[WorkoutRecord],
) -> None:
    groups = resolve(items)
    placed = [r.id for g in groups for r in g.records]
    assert sorted(placed) == sorted(r.id for r in items)
    for group in groups:
        assert group.primary.reason.startswith("primary: ")
        for dup in group.duplicates:
            assert dup.reason.startswith(f"duplicate of {group.primary.record.id}: ")
