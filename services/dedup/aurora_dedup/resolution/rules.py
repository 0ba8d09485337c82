"""Which records of one user are the same workout, and which of them is primary.

The result depends only on the SET of records given: inputs are sorted first,
groups are the connected components of the pairwise "same workout" relation
(a union-find is indifferent to the order in which it unions), and every
choice among equals ends in a total order on (source, external_id, id). That is
what lets the consumer apply events in any order and still converge.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from aurora_dedup.resolution.priority import (
    DEFAULT_WORKOUT_PRIORITY,
    priority_of,
    recording_source,
)
from aurora_dedup.resolution.sports import describe_relation, related

MIN_OVERLAP = 0.5


@dataclass(frozen=True, slots=True)
class WorkoutRecord:
    id: UUID
    source: str
    external_id: str
    origin_device: str | None
    sport: str
    start: datetime
    end: datetime | None
    duration_s: float
    # The athlete's UTC offset as the source reports it (clock-bug detection).
    tz_offset_min: int | None = None
    distance_m: float | None = None
    avg_hr: float | None = None
    avg_power: float | None = None
    # The record's metrics as ingest sent them; field-level fill-in reads them.
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def span_end(self) -> datetime:
        """DESIGN.md §3: a record without an end lasts start + duration."""
        if self.end is not None:
            return self.end
        return self.start + timedelta(seconds=self.duration_s)

    @property
    def span_s(self) -> float:
        return (self.span_end - self.start).total_seconds()

    @property
    def recorded_by(self) -> str:
        return recording_source(self.source, self.origin_device)

    @property
    def order_key(self) -> tuple[str, str, str]:
        return (self.source, self.external_id, str(self.id))


@dataclass(frozen=True, slots=True)
class Overrides:
    """The athlete's manual decisions, which outrank every automatic rule.

    `same`: sets of record ids the athlete merged ("these are the same");
    `apart`: pairs of record ids the athlete split ("these are different sessions").
    When a pair is in both, `apart` wins; the service keeps only the latest decision per pair.
    """

    same: frozenset[frozenset[UUID]] = frozenset()
    apart: frozenset[frozenset[UUID]] = frozenset()


NO_OVERRIDES = Overrides()


@dataclass(frozen=True, slots=True)
class Match:
    overlap: float  # fraction of the longer record's span
    relation: str

    def describe(self) -> str:
        return f"{math.floor(self.overlap * 100)} % overlap, {self.relation}"


@dataclass(frozen=True, slots=True)
class Decision:
    record: WorkoutRecord
    reason: str


@dataclass(frozen=True, slots=True)
class Group:
    primary: Decision
    duplicates: tuple[Decision, ...]  # ordered by (source, external_id, id)

    @property
    def reason(self) -> str:
        return self.primary.reason

    @property
    def records(self) -> tuple[WorkoutRecord, ...]:
        return (self.primary.record, *(d.record for d in self.duplicates))


def same_workout(a: WorkoutRecord, b: WorkoutRecord) -> Match | None:
    """Related sports and an overlap of at least half of the longer record."""
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
    unique: dict[UUID, WorkoutRecord] = {}
    for record in records:
        if unique.setdefault(record.id, record) != record:
            raise ValueError(f"record {record.id} given twice with different content")
    ordered = sorted(unique.values(), key=lambda r: (r.start, r.span_end, r.order_key))
    links = _links(ordered)
    groups = [_elect(members, links, priorities) for members in _components(ordered, links)]
    return sorted(groups, key=lambda g: (g.primary.record.start, str(g.primary.record.id)))


Links = dict[UUID, dict[UUID, Match]]


def _links(ordered: list[WorkoutRecord]) -> Links:
    """Every matching pair, found with a sweep over start-sorted records."""
    links: Links = {r.id: {} for r in ordered}
    active: list[WorkoutRecord] = []
    for record in ordered:
        active = [other for other in active if other.span_end > record.start]
        for other in active:
            match = same_workout(record, other)
            if match is not None:
                links[record.id][other.id] = match
                links[other.id][record.id] = match
        active.append(record)
    return links


def _components(ordered: list[WorkoutRecord], links: Links) -> list[list[WorkoutRecord]]:
    by_id = {r.id: r for r in ordered}
    seen: set[UUID] = set()
    out: list[list[WorkoutRecord]] = []
    for record in ordered:
        if record.id in seen:
            continue
        seen.add(record.id)
        members = [record]
        stack = [record.id]
        while stack:
            for neighbour in links[stack.pop()]:
                if neighbour not in seen:
                    seen.add(neighbour)
                    members.append(by_id[neighbour])
                    stack.append(neighbour)
        out.append(sorted(members, key=lambda r: r.order_key))
    return out


def _rank(record: WorkoutRecord, priorities: Mapping[str, int]) -> tuple[int, float, str, str, str]:
    """Lower sorts first: highest priority, then the shorter record, then a fixed order."""
    return (-priority_of(record.recorded_by, priorities), record.span_s, *record.order_key)


def _label(record: WorkoutRecord, priorities: Mapping[str, int]) -> str:
    device = record.recorded_by
    via = "" if device == record.source else f" via {record.source}"
    return f"{device}{via} ({priority_of(device, priorities)})"


def _elect(members: list[WorkoutRecord], links: Links, priorities: Mapping[str, int]) -> Group:
    primary = min(members, key=lambda r: _rank(r, priorities))
    others = [r for r in members if r.id != primary.id]
    if not others:
        return Group(Decision(primary, "primary: only record of this session"), ())
    return Group(
        Decision(primary, _primary_reason(primary, others, priorities)),
        tuple(
            Decision(r, _duplicate_reason(r, primary, links, priorities, members)) for r in others
        ),
    )


def _primary_reason(
    primary: WorkoutRecord, others: list[WorkoutRecord], priorities: Mapping[str, int]
) -> str:
    top = priority_of(primary.recorded_by, priorities)
    tied = [r for r in others if priority_of(r.recorded_by, priorities) == top]
    lower = {
        _label(r, priorities): priority_of(r.recorded_by, priorities)
        for r in others
        if priority_of(r.recorded_by, priorities) != top
    }
    reason = f"primary: {_label(primary, priorities)}"
    if tied:
        rivals = ", ".join(sorted({_label(r, priorities) for r in tied}))
        reason += f" ties with {rivals}, {_tie_break(primary, tied)}"
    if lower:
        ranked = sorted(lower, key=lambda label: (-lower[label], label))
        reason += ("; outranks " if tied else " outranks ") + ", ".join(ranked)
    return reason


def _tie_break(winner: WorkoutRecord, tied: list[WorkoutRecord]) -> str:
    closest = min(r.span_s for r in tied)
    if closest > winner.span_s:
        return f"shorter record wins ({winner.span_s:.0f} s vs {closest:.0f} s)"
    return "same length, first by source, external id and record id"


def _duplicate_reason(
    record: WorkoutRecord,
    primary: WorkoutRecord,
    links: Links,
    priorities: Mapping[str, int],
    members: list[WorkoutRecord],
) -> str:
    via, match = _path_to(record, primary, links, members)
    if via is None:
        why_same = match.describe()
    else:
        why_same = f"same session through {via.id} ({match.describe()})"
    mine = priority_of(record.recorded_by, priorities)
    theirs = priority_of(primary.recorded_by, priorities)
    if theirs > mine:
        why_not = f"{_label(primary, priorities)} outranks {_label(record, priorities)}"
    elif primary.span_s < record.span_s:
        why_not = f"same priority ({mine}), the primary is shorter"
    else:
        why_not = f"same priority ({mine}) and length, the primary comes first by source and id"
    return f"duplicate of {primary.id}: {why_same}; {why_not}"


def _path_to(
    record: WorkoutRecord, primary: WorkoutRecord, links: Links, members: list[WorkoutRecord]
) -> tuple[WorkoutRecord | None, Match]:
    """The direct match with the primary, or the first hop on a shortest path to it.

    Neighbours are visited in the fixed member order, so the path (and the reason
    text) is a function of the group alone.
    """
    direct = links[record.id].get(primary.id)
    if direct is not None:
        return None, direct
    position = {r.id: i for i, r in enumerate(members)}
    by_id = {r.id: r for r in members}
    first_hop: dict[UUID, UUID] = {}
    queue: deque[UUID] = deque()
    for neighbour in sorted(links[record.id], key=position.__getitem__):
        first_hop[neighbour] = neighbour
        queue.append(neighbour)
    while queue:
        current = queue.popleft()
        if current == primary.id:
            hop = first_hop[current]
            return by_id[hop], links[record.id][hop]
        for neighbour in sorted(links[current], key=position.__getitem__):
            if neighbour not in first_hop and neighbour != record.id:
                first_hop[neighbour] = first_hop[current]
                queue.append(neighbour)
    raise AssertionError("a group member is always connected to its primary")
