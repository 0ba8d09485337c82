"""Field-level fill-in: the primary's values win, gaps come from duplicates in rank order."""

from __future__ import annotations

import uuid
from itertools import permutations

import pytest

from aurora_dedup.resolution.fill import FilledField, fill_fields
from aurora_dedup.resolution.rules import Decision, Group, resolve

from .workout_factory import rec


def test_primary_values_win_and_gaps_are_filled_in_rank_order() -> None:
    edge = rec(
        "garmin",
        minutes=120,
        distance=50000,
        hr=None,
        power=210,
        metrics={"calories": 1500, "avg_cadence": None},
    )
    strava = rec(
        "strava",
        minutes=121,
        device="Garmin Edge 1040",
        distance=50100,
        hr=None,
        metrics={"avg_cadence": 88, "elevation_gain_m": 700},
    )
    whoop = rec(
        "whoop", start_min=1, minutes=100, hr=140, metrics={"strain": 14.2, "calories": 1400}
    )
    (group,) = resolve([whoop, strava, edge])
    assert group.primary.record == edge
    filled = fill_fields(group)
    assert filled == {
        "calories": FilledField(1500, edge.id, "garmin"),
        "avg_cadence": FilledField(88, strava.id, "strava"),
        "elevation_gain_m": FilledField(700, strava.id, "strava"),
        "strain": FilledField(14.2, whoop.id, "whoop"),
        "distance_m": FilledField(50000, edge.id, "garmin"),
        "avg_power": FilledField(210, edge.id, "garmin"),
        "avg_hr": FilledField(140, whoop.id, "whoop"),
    }


def test_a_better_ranked_duplicate_fills_before_a_worse_one() -> None:
    edge = rec("garmin", minutes=120)
    oura = rec("oura", start_min=5, minutes=100, hr=133)
    whoop = rec("whoop", start_min=1, minutes=110, hr=141)  # 30 > 10: whoop ranks first
    for order in permutations([edge, oura, whoop]):
        (group,) = resolve(order)
        assert fill_fields(group)["avg_hr"] == FilledField(141, whoop.id, "whoop")


def test_metrics_outrank_the_records_own_summary_fields_and_none_is_a_gap() -> None:
    solo = rec("polar", hr=150, distance=None, metrics={"avg_hr": 151, "distance_m": None})
    (group,) = resolve([solo])
    assert fill_fields(group) == {"avg_hr": FilledField(151, solo.id, "polar")}


def test_a_single_record_without_values_fills_nothing() -> None:
    (group,) = resolve([rec("manual")])
    assert fill_fields(group) == {}


@pytest.mark.parametrize("ranks", [(2, 1), (1, 2)])
def test_hand_built_groups_follow_the_ranks_they_carry(ranks: tuple[int, int]) -> None:
    primary = rec("garmin")
    first = rec("whoop", hr=140)
    second = rec("oura", hr=130)
    group = Group(
        Decision(primary, "primary"),
        (Decision(first, "dup", rank=ranks[0]), Decision(second, "dup", rank=ranks[1])),
    )
    expected = first if ranks[0] < ranks[1] else second
    assert fill_fields(group)["avg_hr"].record_id == expected.id


def test_filled_field_names_its_record() -> None:
    rid = uuid.uuid4()
    field = FilledField(3.5, rid, "polar")
    assert (field.value, field.record_id, field.source) == (3.5, rid, "polar")
