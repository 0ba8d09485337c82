"""Which records of one user are the same workout, and which of them is primary.

The result depends only on the SET of records given: records are put in a fixed
order first (start, end, source, external id, id), every rule visits them and
breaks ties in that order, and the primary is the first of a total order
(effective priority, right clock, shorter span, the recording service's own record
before a copy, source, external id, id). That is
what lets the consumer apply events in any order and still converge.

provenance.py settles each record's true time and recording device, sessions.py
groups them around the main recorders, overrides.py applies the athlete's own
decisions and explain.py words every decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from aurora_dedup.resolution.explain import ONLY_RECORD, duplicate_reason, primary_reason
from aurora_dedup.resolution.overrides import apply_overrides
from aurora_dedup.resolution.priority import DEFAULT_WORKOUT_PRIORITY, UNKNOWN_PRIORITY
from aurora_dedup.resolution.provenance import View, build_views
from aurora_dedup.resolution.records import NO_OVERRIDES, Overrides, WorkoutRecord
from aurora_dedup.resolution.sessions import MIN_OVERLAP, build_sessions
from aurora_dedup.resolution.sports import describe_relation, related

__all__ = [
    "NO_OVERRIDES",
    "Decision",
    "Group",
    "Match",
    "Overrides",
    "WorkoutRecord",
    "resolve",
    "same_workout",
]


@dataclass(frozen=True, slots=True)
class Match:
    overlap: float  # fraction of the longer record's span
    relation: str

    def describe(self) -> str:
        return f"{math.floor(self.overlap * 100)} % overlap, {self.relation}"


class Decision(NamedTuple):
    """Why one record is primary or a duplicate.

    A NamedTuple rather than a frozen dataclass: just as immutable, and five times
    cheaper to build, which matters at one per record (the core resolves 100k/s).
    """

    record: WorkoutRecord
    reason: str
    # The source whose device recorded the session, after following copy chains.
    recorded_by: str = ""
    priority: int = 0
    # Place in the election: 0 is the primary, 1 the best duplicate (fill-in order).
    rank: int = 0


class Group(NamedTuple):
    primary: Decision
    duplicates: tuple[Decision, ...]  # ordered by (source, external_id, id)

    @property
    def reason(self) -> str:
        return self.primary.reason

    @property
    def records(self) -> tuple[WorkoutRecord, ...]:
        return (self.primary.record, *(d.record for d in self.duplicates))


def same_workout(a: WorkoutRecord, b: WorkoutRecord) -> Match | None:
    """The contract's plain rule on two records: related sports, >= 50 % of the longer."""
    if not related(a.sport, b.sport):
        return None
    longer = max(a.span_s, b.span_s)
    if longer <= 0:
        return None
    overlap = (min(a.span_end, b.span_end) - max(a.start, b.start)).total_seconds()
    if overlap < MIN_OVERLAP * longer:
        return None
    return Match(overlap / longer, describe_relation(a.sport, b.sport))


def resolve(
    records: Iterable[WorkoutRecord],
    priorities: Mapping[str, int] = DEFAULT_WORKOUT_PRIORITY,
    overrides: Overrides = NO_OVERRIDES,
) -> list[Group]:
    """Group one user's active records and elect a primary per group.

    Groups come back ordered by (primary start, primary id).
    """
    given = list(records)
    unique = {record.id: record for record in given}
    if len(unique) != len(given):  # the same record twice is fine, two records on one id not
        for record in given:
            if unique[record.id] is not record and unique[record.id] != record:
                raise ValueError(f"record {record.id} given twice with different content")
    views = build_views(unique.values())
    sessions = build_sessions(views)
    if overrides:
        sessions = apply_overrides(views, sessions, overrides)
    table = dict(priorities)  # a plain dict reads faster than the default's read-only proxy
    # (start, id) never ties, so the sort never compares two groups.
    elected = [_elect(members, table) for members in sessions]
    elected.sort()
    return [group for _, _, group in elected]


def _rank(view: View) -> tuple[int, bool, float, bool, tuple[str, str, int]]:
    """Priority, then the right clock, then the shorter record (DESIGN.md §3); among equals
    the device's own service before a copy carried elsewhere, then a fixed order."""
    return (
        -view.priority,
        view.shift_s != 0,
        view.span,
        view.named != view.record.source,
        view.key,
    )


_by_key = attrgetter("key")


def _elect(members: list[View], priorities: Mapping[str, int]) -> tuple[float, int, Group]:
    """The group of a session, keyed by its primary's (corrected) start and id for ordering."""
    for view in members:
        view.priority = priorities.get(view.recorder, UNKNOWN_PRIORITY)
    if len(members) == 1:
        (only,) = members
        decision = Decision(only.record, ONLY_RECORD, only.recorder, only.priority)
        return only.start, only.key[2], Group(decision, ())
    if len(members) == 2:  # the most common group: one comparison instead of two sorts
        a, b = members
        ranked = [a, b] if _rank(a) < _rank(b) else [b, a]
    else:
        ranked = sorted(members, key=_rank)
    primary = ranked[0]
    for place, view in enumerate(ranked):
        view.rank = place
    others = ranked[1:]
    if len(others) > 1:
        others.sort(key=_by_key)
    decision = Decision(
        primary.record, primary_reason(primary, others), primary.recorder, primary.priority
    )
    primary_id = str(primary.record.id)
    duplicates = tuple(
        [
            Decision(
                v.record, duplicate_reason(v, primary, primary_id), v.recorder, v.priority, v.rank
            )
            for v in others
        ]
    )
    return primary.start, primary.key[2], Group(decision, duplicates)
