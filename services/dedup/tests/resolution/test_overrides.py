"""The athlete's `same` and `apart` decisions outrank every automatic rule."""

from __future__ import annotations

from aurora_dedup.resolution.rules import Overrides, resolve

from .workout_factory import partition, reasons, rec


def test_same_merges_sessions_the_rules_keep_apart() -> None:
    ride = rec("garmin", minutes=60)
    later = rec("polar", start_min=180, minutes=60)
    assert len(resolve([ride, later])) == 2
    merged = Overrides(same=frozenset({frozenset({ride.id, later.id})}))
    (group,) = resolve([later, ride], overrides=merged)
    assert group.primary.record == ride
    assert reasons(group)[later.id].endswith("; the athlete marked these records as one session")


def test_apart_splits_what_the_rules_join_and_the_rest_stays_together() -> None:
    edge = rec("garmin", minutes=120)
    strava = rec("strava", minutes=120, device="Garmin Edge 1040")
    whoop = rec("whoop", start_min=1, minutes=20)
    split = Overrides(apart=frozenset({frozenset({edge.id, whoop.id})}))
    groups = resolve([edge, strava, whoop], overrides=split)
    assert partition(groups) == {frozenset({edge.id, strava.id}), frozenset({whoop.id})}


def test_apart_wins_over_same_for_the_same_pair() -> None:
    a = rec("garmin", minutes=60)
    b = rec("polar", start_min=1, minutes=60)
    both = Overrides(
        same=frozenset({frozenset({a.id, b.id})}), apart=frozenset({frozenset({a.id, b.id})})
    )
    assert len(resolve([a, b], overrides=both)) == 2


def test_apart_inside_a_same_set_keeps_the_rest_of_the_set_together() -> None:
    a = rec("garmin", minutes=60)
    b = rec("polar", start_min=200, minutes=60)
    c = rec("wahoo", start_min=400, minutes=60)
    overrides = Overrides(
        same=frozenset({frozenset({a.id, b.id, c.id})}),
        apart=frozenset({frozenset({a.id, c.id})}),
    )
    groups = resolve([c, b, a], overrides=overrides)
    assert len(groups) == 2
    assert not any({a.id, c.id} <= g for g in partition(groups))
    assert any({a.id, b.id} <= g or {b.id, c.id} <= g for g in partition(groups))


def test_overrides_naming_unknown_records_are_ignored() -> None:
    a = rec("garmin")
    ghost = rec("polar")
    overrides = Overrides(
        same=frozenset({frozenset({a.id, ghost.id})}),
        apart=frozenset({frozenset({a.id, ghost.id})}),
    )
    assert resolve([a], overrides=overrides) == resolve([a])


def test_no_overrides_is_falsy_and_changes_nothing() -> None:
    a = rec("garmin")
    b = rec("whoop", start_min=1, minutes=50)
    assert not Overrides()
    assert resolve([a, b], overrides=Overrides()) == resolve([a, b])
