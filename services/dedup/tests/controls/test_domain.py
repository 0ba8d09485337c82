"""The pure rules of the controls: effective orders, and the latest decision per pair."""

from __future__ import annotations

import itertools
import random
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aurora_dedup.controls.domain import (
    DEFAULT_PRIORITIES,
    DOMAINS,
    LinkDecision,
    WorkoutControls,
    as_relation,
    effective_priorities,
    links_in_effect,
    overrides_for,
    pair_verdicts,
    same_partners,
)
from aurora_dedup.resolution.health import DEFAULT_HEALTH_PRIORITY
from aurora_dedup.resolution.priority import DEFAULT_WORKOUT_PRIORITY, SOURCES

IDS = [uuid.UUID(int=i + 1) for i in range(6)]
A, B, C, D, E, F = IDS


def pair(x: uuid.UUID, y: uuid.UUID) -> frozenset[uuid.UUID]:
    return frozenset((x, y))


def test_every_domain_orders_every_source() -> None:
    for domain in DOMAINS:
        assert set(DEFAULT_PRIORITIES[domain]) == set(SOURCES)
    assert DEFAULT_PRIORITIES["workouts"] == DEFAULT_WORKOUT_PRIORITY
    health = sorted(DEFAULT_HEALTH_PRIORITY, key=DEFAULT_HEALTH_PRIORITY.__getitem__, reverse=True)
    # DESIGN.md §3's order of the sources it names.
    named = ["oura", "whoop", "apple_health", "garmin", "polar", "manual"]
    assert [s for s in health if s in named] == named
    assert len({DEFAULT_HEALTH_PRIORITY[s] for s in named}) == len(named)


def test_effective_priorities_put_the_choices_on_the_defaults() -> None:
    assert effective_priorities("workouts", None) == dict(DEFAULT_WORKOUT_PRIORITY)
    chosen = effective_priorities("workouts", {"whoop": 99})
    assert chosen == {**DEFAULT_WORKOUT_PRIORITY, "whoop": 99}
    assert effective_priorities("sleep", {"garmin": 100})["garmin"] == 100
    assert effective_priorities("recovery", {})["oura"] == DEFAULT_HEALTH_PRIORITY["oura"]


def test_relations_are_checked() -> None:
    assert as_relation("same") == "same"
    assert as_relation("apart") == "apart"
    with pytest.raises(ValueError, match="unknown link relation"):
        as_relation("merge")


def test_a_link_decides_all_its_pairs_or_only_its_anchors() -> None:
    merged = LinkDecision(1, "same", (A, B, C))
    assert set(merged.pairs()) == {pair(A, B), pair(A, C), pair(B, C)}
    detached = LinkDecision(2, "apart", (A, B, C), anchor=B)
    assert set(detached.pairs()) == {pair(B, A), pair(B, C)}


def test_the_latest_decision_per_pair_wins_whatever_the_list_order() -> None:
    links = [
        LinkDecision(3, "apart", (A, B)),
        LinkDecision(1, "same", (A, B, C)),
        LinkDecision(2, "same", (D, E)),
        LinkDecision(4, "same", (D, E)),
    ]
    verdicts = pair_verdicts(links)
    assert verdicts == {
        pair(A, B): "apart",
        pair(A, C): "same",
        pair(B, C): "same",
        pair(D, E): "same",
    }
    assert pair_verdicts(reversed(links)) == verdicts
    # The first (A, B, C) link still decides A-C and B-C; the older D-E one decides nothing.
    assert links_in_effect(links) == {1, 3, 4}


def test_overrides_only_name_records_being_resolved() -> None:
    verdicts = pair_verdicts([LinkDecision(1, "same", (A, B, C)), LinkDecision(2, "apart", (A, D))])
    full = overrides_for(verdicts, IDS)
    assert full.same == {pair(A, B), pair(A, C), pair(B, C)}
    assert full.apart == {pair(A, D)}
    # C was removed: its pairs drop out, the rest stays.
    partial = overrides_for(verdicts, [A, B, D])
    assert partial.same == {pair(A, B)}
    assert partial.apart == {pair(A, D)}
    assert not overrides_for(verdicts, [E, F])


def test_same_partners_follow_current_same_verdicts_only() -> None:
    verdicts = pair_verdicts(
        [
            LinkDecision(1, "same", (A, B, C)),
            LinkDecision(2, "apart", (B, C)),
            LinkDecision(3, "apart", (D, E)),
        ]
    )
    assert same_partners(verdicts) == {A: {B, C}, B: {A}, C: {A}}


def test_controls_bundle_the_order_and_the_verdicts() -> None:
    controls = WorkoutControls.of(
        {"whoop": 80},
        [LinkDecision(2, "apart", (A, B)), LinkDecision(1, "same", (A, B))],
    )
    assert [link.seq for link in controls.links] == [1, 2]
    assert controls.priorities["whoop"] == 80
    assert controls.overrides([A, B]).apart == {pair(A, B)}
    assert controls.same_partners() == {}
    assert WorkoutControls().priorities == dict(DEFAULT_WORKOUT_PRIORITY)


links_strategy = st.lists(
    st.tuples(
        st.sampled_from(["same", "apart"]),
        st.sets(st.sampled_from(IDS), min_size=2, max_size=4),
        st.booleans(),
    ),
    max_size=8,
)


@given(raw=links_strategy, order=st.randoms())
def test_pair_verdicts_match_a_replay_of_every_decision(
    raw: list[tuple[str, set[uuid.UUID], bool]], order: random.Random
) -> None:
    links = [
        LinkDecision(seq, as_relation(relation), tuple(ids), anchor=min(ids) if anchored else None)
        for seq, (relation, ids, anchored) in enumerate(raw, start=1)
    ]
    shuffled = list(links)
    order.shuffle(shuffled)
    verdicts = pair_verdicts(shuffled)
    # Replay: for each pair, walk the decisions in order and keep the last that names it.
    for x, y in itertools.combinations(IDS, 2):
        naming = [
            link
            for link in links
            if x in link.record_ids
            and y in link.record_ids
            and (link.anchor is None or link.anchor in (x, y))
        ]
        assert verdicts.get(pair(x, y)) == (naming[-1].relation if naming else None)
    overrides = overrides_for(verdicts, IDS)
    assert not overrides.same & overrides.apart
    effective = links_in_effect(shuffled)
    for link in links:
        assert (link.seq in effective) == any(
            verdicts[p] == link.relation
            and max(other.seq for other in links if p in other.pairs()) == link.seq
            for p in link.pairs()
        )
