"""The resolution depends on the set of records (and overrides) only (Hypothesis)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aurora_dedup.resolution.rules import Group, Overrides, WorkoutRecord, elect, resolve

T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
DEVICES = [None, "Garmin Edge 530", "WHOOP", "Strava iPhone App", "Polar Flow", "Zwift", "Strava"]
SPORTS = ["ride", "gravel_ride", "run", "walk", "other", "mountain_bike_ride", "triathlon"]
SOURCES = ["strava", "garmin", "polar", "whoop", "oura", "apple_health", "manual"]


@st.composite
def records(draw: st.DrawFn) -> WorkoutRecord:
    start = T0 + timedelta(
        minutes=draw(st.sampled_from([0, 30, 60, 90, 120])) + draw(st.integers(0, 20))
    )
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
        tz_offset_min=draw(st.sampled_from([None, 30, 60])),
        distance_m=draw(st.sampled_from([None, 10000.0, 10050.0])),
        avg_hr=draw(st.sampled_from([None, 140.0, 141.0, 160.0])),
    )


record_sets = st.lists(records(), min_size=0, max_size=14, unique_by=lambda r: r.id)


@st.composite
def with_overrides(draw: st.DrawFn) -> tuple[list[WorkoutRecord], Overrides]:
    items = draw(record_sets)
    ids = [r.id for r in items]
    if len(ids) < 2:
        return items, Overrides()
    subsets = st.frozensets(st.sampled_from(ids), min_size=2, max_size=4)
    pairs = st.frozensets(st.sampled_from(ids), min_size=2, max_size=2)
    same = draw(st.frozensets(subsets, max_size=3))
    apart = draw(st.frozensets(pairs, max_size=3))
    return items, Overrides(same=same, apart=apart)


def _check_shape(groups: list[Group], items: list[WorkoutRecord]) -> None:
    placed = [r.id for g in groups for r in g.records]
    assert sorted(placed) == sorted(r.id for r in items)  # every record exactly once
    for group in groups:
        assert group.primary.reason.startswith("primary: ")
        assert group.primary.rank == 0
        assert sorted(d.rank for d in group.duplicates) == list(range(1, len(group.records)))
        for dup in group.duplicates:
            assert dup.reason.startswith(f"duplicate of {group.primary.record.id}: ")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), case=with_overrides())
def test_any_permutation_gives_the_same_resolution(
    data: st.DataObject, case: tuple[list[WorkoutRecord], Overrides]
) -> None:
    items, overrides = case
    shuffled = data.draw(st.permutations(items))
    assert resolve(shuffled, overrides=overrides) == resolve(items, overrides=overrides)


@settings(max_examples=300, deadline=None)
@given(case=with_overrides())
def test_elect_is_resolve_without_the_words(case: tuple[list[WorkoutRecord], Overrides]) -> None:
    items, overrides = case
    groups = resolve(items, overrides=overrides)
    ballots = elect(items, overrides=overrides)
    assert [[v.record for v in ballot] for ballot in ballots] == [list(g.records) for g in groups]
    assert [[v.priority for v in ballot] for ballot in ballots] == [
        [d.priority for d in (g.primary, *g.duplicates)] for g in groups
    ]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), items=record_sets)
def test_a_record_given_twice_changes_nothing(
    data: st.DataObject, items: list[WorkoutRecord]
) -> None:
    again = data.draw(st.lists(st.sampled_from(items), max_size=4)) if items else []
    assert resolve([*items, *again]) == resolve(items)


@settings(max_examples=300, deadline=None)
@given(case=with_overrides())
def test_every_record_lands_once_in_a_group_with_one_primary(
    case: tuple[list[WorkoutRecord], Overrides],
) -> None:
    items, overrides = case
    _check_shape(resolve(items), items)
    _check_shape(resolve(items, overrides=overrides), items)


@settings(max_examples=300, deadline=None)
@given(case=with_overrides())
def test_overrides_are_honoured(case: tuple[list[WorkoutRecord], Overrides]) -> None:
    items, overrides = case
    group_of = {
        r.id: i for i, g in enumerate(resolve(items, overrides=overrides)) for r in g.records
    }
    for pair in overrides.apart:
        a, b = sorted(pair)
        assert group_of[a] != group_of[b]
    # A same set ends in one group unless the athlete's merges, taken together, would
    # also put an apart pair together (then apart wins).
    root = {r.id: r.id for r in items}

    def find(x: uuid.UUID) -> uuid.UUID:
        while root[x] != x:
            x = root[x]
        return x

    for same in overrides.same:
        first, *rest = sorted(same)
        for other in rest:
            root[find(other)] = find(first)
    for same in overrides.same:
        if not any(find(a) == find(next(iter(same))) for pair in overrides.apart for a in pair):
            assert len({group_of[x] for x in same}) == 1
