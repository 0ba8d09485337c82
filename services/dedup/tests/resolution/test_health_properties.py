"""A health day's election depends on the set of records only (Hypothesis)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from aurora_dedup.resolution.health import HealthRecord, elect

DAYS = [date(2024, 5, 1), date(2024, 5, 2)]
SOURCES = ["oura", "whoop", "apple_health", "garmin", "polar", "manual", "strava"]
DEVICES = [None, "Apple Watch", "Oura Ring", "iPhone"]
KINDS = ["sleep", "recovery", "daily"]
METRICS = ["asleep_s", "resting_hr", "recovery_score", "day_strain", "nap"]
PRIORITIES = st.fixed_dictionaries(
    {},
    optional={
        kind: st.dictionaries(st.sampled_from(SOURCES), st.integers(0, 3))
        for kind in ("sleep", "recovery", "daily")
    },
)


@st.composite
def records(draw: st.DrawFn) -> HealthRecord:
    kind = draw(st.sampled_from(KINDS))
    start = datetime(2024, 5, 1, 22, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 120)))
    hours = draw(st.sampled_from([None, 1, 7, 8]))
    return HealthRecord(
        id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        source=draw(st.sampled_from(SOURCES)),
        external_id=draw(st.sampled_from(["1", "2", "3"])),
        origin_device=draw(st.sampled_from(DEVICES)),
        kind=kind,
        day=draw(st.sampled_from(DAYS)),
        start=start,
        end=None if hours is None else start + timedelta(hours=hours),
        metrics=draw(
            st.dictionaries(st.sampled_from(METRICS), st.one_of(st.none(), st.integers(0, 3)))
        ),
        nap=kind == "sleep" and draw(st.booleans()),
    )


record_sets = st.lists(records(), max_size=10, unique_by=lambda r: r.id)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), items=record_sets, priorities=PRIORITIES)
def test_any_permutation_gives_the_same_days(
    data: st.DataObject, items: list[HealthRecord], priorities: dict[str, dict[str, int]]
) -> None:
    shuffled = data.draw(st.permutations(items))
    assert elect(shuffled, priorities) == elect(items, priorities)


@settings(max_examples=300, deadline=None)
@given(items=record_sets, priorities=PRIORITIES)
def test_invariants_of_every_day(
    items: list[HealthRecord], priorities: dict[str, dict[str, int]]
) -> None:
    views = elect(items, priorities)
    assert set(views) == {r.day for r in items}
    for day, view in views.items():
        members = [r for r in items if r.day == day]
        assert sorted(d.record.id for d in view.decisions) == sorted(r.id for r in members)
        for kind, primary in (("sleep", view.sleep), ("recovery", view.recovery)):
            candidates = [r for r in members if r.kind == kind and not r.nap]
            assert (primary is None) == (not candidates)
            if primary is not None:
                assert primary.record.kind == kind and not primary.record.nap
                assert primary.role == "primary"
        for decision in view.decisions:
            if decision.record.nap:
                assert decision.role == "nap"
            if decision.role == "duplicate":
                winner = view.sleep if decision.record.kind == "sleep" else view.recovery
                assert winner is not None
                assert decision.reason.startswith(f"duplicate of {winner.record.id}: ")
        feeders = {d.record.id for d in (view.sleep, view.recovery) if d is not None}
        feeders |= {r.id for r in members if r.kind == "daily"}
        for name, source in view.field_sources.items():
            assert source.record_id in feeders
            owner = next(r for r in members if r.id == source.record_id)
            assert owner.metrics[name] == view.metrics[name] is not None
        assert "nap" not in view.metrics
