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
    "Ballot",
    "Decision",
    "Group",
    "Match",
    "Overrides",
    "WorkoutRecord",
    "elect",
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
    return [_group(ballot) for ballot in elect(records, priorities, overrides)]


# One session's records: the primary first, then the others by (source, external id, id).
Ballot = list[View]


def elect(
    records: Iterable[WorkoutRecord],
    priorities: Mapping[str, int] = DEFAULT_WORKOUT_PRIORITY,
    overrides: Overrides = NO_OVERRIDES,
) -> list[Ballot]:
    """resolve()'s sessions and primaries, in its order, before any decision is worded.

    Wording the reasons costs nearly as much as electing; a caller that shows no reasons (the
    benchmark command without --explain) reads the groups from here instead.
    """
    views = build_views(_distinct(records))
    sessions = build_sessions(views)
    if overrides:
        sessions = apply_overrides(views, sessions, overrides)
    table = dict(priorities)  # a plain dict reads faster than the default's read-only proxy
    # (start, id) never ties, so the sort never compares two ballots.
    keyed = [_ballot(members, table) for members in sessions]
    keyed.sort()
    return [ballot for _, _, ballot in keyed]


_id_int = attrgetter("id.int")


def _distinct(records: Iterable[WorkoutRecord]) -> list[WorkoutRecord]:
    """The records once each: the same record twice is fine, two records on one id not."""
    given = list(records)
    if len(set(map(_id_int, given))) == len(given):
        return given
    unique: dict[int, WorkoutRecord] = {}
    for record in given:
        seen = unique.setdefault(record.id.int, record)
        if seen is not record and seen != record:
            raise ValueError(f"record {record.id} given twice with different content")
    return list(unique.values())


def _rank(view: View) -> tuple[int, bool, float, bool, tuple[str, str, int]]:
    """Priority, then the right clock, then the shorter record (DESIGN.md §3); among equals
    the device's own service before a copy carried elsewhere, then a fixed order."""
    return (-view.priority, view.shift_s != 0, view.span, view.is_copy, view.key)


_by_key = attrgetter("key")


def _ballot(members: list[View], priorities: Mapping[str, int]) -> tuple[float, int, Ballot]:
    """The session's ballot, keyed by its primary's (corrected) start and id for ordering."""
    if len(members) == 1:
        (only,) = members
        only.priority = priorities.get(only.recorder, UNKNOWN_PRIORITY)
        return only.start, only.key[2], members
    for view in members:
        view.priority = priorities.get(view.recorder, UNKNOWN_PRIORITY)
    if len(members) == 2:  # the most common group: one comparison instead of a sort
        a, b = members
        ballot = [a, b] if _rank(a) < _rank(b) else [b, a]
    else:
        primary = min(members, key=_rank)
        ballot = [view for view in members if view is not primary]
        ballot.sort(key=_by_key)
        ballot.insert(0, primary)
    primary = ballot[0]
    return primary.start, primary.key[2], ballot


def _group(ballot: Ballot) -> Group:
    """Words the election: needs `priority` set on every view (the ballot does that)."""
    primary, *others = ballot
    record = primary.record
    if not others:
        return _new(
            Group,
            (_new(Decision, (record, ONLY_RECORD, primary.recorder, primary.priority, 0)), ()),
        )
    if len(others) == 1:
        others[0].rank = 1
    else:
        for place, view in enumerate(sorted(others, key=_rank), 1):
            view.rank = place
    reason = primary_reason(primary, others)
    decision = _new(Decision, (record, reason, primary.recorder, primary.priority, 0))
    primary_id = str(record.id)
    duplicates = tuple(
        [
            _new(
                Decision,
                (
                    v.record,
                    duplicate_reason(v, primary, primary_id),
                    v.recorder,
                    v.priority,
                    v.rank,
                ),
            )
            for v in others
        ]
    )
    return _new(Group, (decision, duplicates))


# tuple.__new__ straight away: a NamedTuple's generated __new__ only forwards to it, at
# twice the cost, and resolve() builds one Decision per record.
_new = tuple.__new__
