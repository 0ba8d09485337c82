"""One user's health day: which sleep and which recovery count, and the merged view.

DESIGN.md §3: one primary sleep and one primary recovery per user per local day,
elected by health priority; WHOOP's recovery and sleep (and its daily cycle) for
one day merge into one daily view. Decisions:

- A record's priority is that of the device that recorded it (`recording_source`):
  an Apple Health sleep written by an Oura ring ranks as Oura.
- Naps never become the day's sleep; they stay on the day as records with a reason.
- Among equal priorities the longer night wins (a fuller record of the same
  night), then the order (source, external_id, id), so every tie is decided.
- The merged view takes each field from the first record that has it, in the
  order: primary sleep, primary recovery, then the day's `daily` records by
  rank. Non-primary sleeps and recoveries never feed it: two devices' nights
  are two measurements, and mixing their fields would describe neither.
  `daily` records are ranked by the recovery order (their fields are day
  vitals: resting HR, HRV, strain) unless the priorities carry a "daily" key.
- `priorities` maps a kind to the athlete's choices, which override the
  defaults source by source; a kind not given keeps DEFAULT_HEALTH_PRIORITY.
- The result depends only on the SET of records: inputs are sorted first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Final, Literal
from uuid import UUID

from aurora_dedup.resolution.priority import priority_of, recording_source

HealthKind = Literal["sleep", "recovery", "daily"]
HEALTH_KINDS: Final[tuple[str, ...]] = ("sleep", "recovery", "daily")
# The kinds with a primary per day, and the keys of an athlete's health priorities.
ELECTED_KINDS: Final[tuple[str, ...]] = ("sleep", "recovery")
Role = Literal["primary", "duplicate", "nap", "daily"]
ROLES: Final[tuple[str, ...]] = ("primary", "duplicate", "nap", "daily")

# DESIGN.md §3: oura > whoop > apple_health > garmin > polar > manual. Strava and
# Wahoo carry no health data of their own; they rank last should one ever arrive.
DEFAULT_HEALTH_PRIORITY: Final[Mapping[str, int]] = MappingProxyType(
    {
        "oura": 60,
        "whoop": 50,
        "apple_health": 40,
        "garmin": 30,
        "polar": 20,
        "manual": 10,
        "strava": 0,
        "wahoo": 0,
    }
)
DEFAULT_HEALTH_PRIORITIES: Final[Mapping[str, Mapping[str, int]]] = MappingProxyType(
    {"sleep": DEFAULT_HEALTH_PRIORITY, "recovery": DEFAULT_HEALTH_PRIORITY}
)
SOURCE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "oura": "Oura Ring",
        "whoop": "WHOOP",
        "apple_health": "Apple Health",
        "garmin": "Garmin",
        "polar": "Polar",
        "manual": "Manual entry",
        "strava": "Strava",
        "wahoo": "Wahoo",
    }
)
# A marker of the record, not a measurement of the day.
NOT_METRICS: Final[frozenset[str]] = frozenset({"nap"})
NAP_REASON: Final = "nap: a nap never counts as the day's sleep"


@dataclass(frozen=True, slots=True)
class HealthRecord:
    id: UUID
    source: str
    external_id: str
    origin_device: str | None
    kind: str
    day: date
    start: datetime
    end: datetime | None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    nap: bool = False

    @property
    def recorded_by(self) -> str:
        return recording_source(self.source, self.origin_device)

    @property
    def span_s(self) -> float:
        return 0.0 if self.end is None else (self.end - self.start).total_seconds()

    @property
    def order_key(self) -> tuple[str, str, str]:
        return (self.source, self.external_id, str(self.id))


@dataclass(frozen=True, slots=True)
class RecordDecision:
    record: HealthRecord
    role: Role
    reason: str


@dataclass(frozen=True, slots=True)
class FieldSource:
    record_id: UUID
    source: str
    kind: str


@dataclass(frozen=True, slots=True)
class DayView:
    day: date
    sleep: RecordDecision | None
    recovery: RecordDecision | None
    # Every record of the day, primaries included, in (kind, source, external_id, id) order.
    decisions: tuple[RecordDecision, ...]
    metrics: Mapping[str, Any]
    field_sources: Mapping[str, FieldSource]
    reason: str

    @property
    def duplicates(self) -> tuple[RecordDecision, ...]:
        """Records that lost an election, and naps: everything that is neither primary nor daily."""
        return tuple(d for d in self.decisions if d.role in ("duplicate", "nap"))


def order_for(kind: str, priorities: Mapping[str, Mapping[str, int]]) -> Mapping[str, int]:
    """The athlete's order for a kind over the defaults; `daily` follows recovery's.

    An athlete may set some sources only (PUT /priorities/sleep {"whoop": 99});
    the others keep their default, so a partial order never sinks them to -1.
    """
    if kind in priorities:
        return {**DEFAULT_HEALTH_PRIORITY, **priorities[kind]}
    if kind == "daily":
        return order_for("recovery", priorities)
    return DEFAULT_HEALTH_PRIORITY


def label(record: HealthRecord) -> str:
    """'Oura Ring sleep', 'Oura Ring (via Apple Health) sleep'."""
    who = SOURCE_NAMES.get(record.recorded_by, record.recorded_by)
    if record.recorded_by != record.source:
        who += f" (via {SOURCE_NAMES.get(record.source, record.source)})"
    return f"{who} {record.kind}"


def _rank(record: HealthRecord, order: Mapping[str, int]) -> tuple[int, float, tuple[str, ...]]:
    """Smaller is better: higher priority, then the longer record, then the stable key."""
    return (-priority_of(record.recorded_by, order), -record.span_s, record.order_key)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def outranks(winner: HealthRecord, loser: HealthRecord, order: Mapping[str, int]) -> str:
    """Why `winner` beat `loser`, in words an athlete reads in the timeline."""
    high, low = priority_of(winner.recorded_by, order), priority_of(loser.recorded_by, order)
    head = f"{label(winner)} outranks {label(loser)}"
    if high != low:
        return f"{head}: priority {high} > {low}"
    if winner.span_s != loser.span_s:
        return (
            f"{head}: equal priority {high}, longer record "
            f"({_hours(winner.span_s)} > {_hours(loser.span_s)})"
        )
    return f"{head}: equal priority {high} and length, first by (source, external id, id)"


def _elect_kind(
    kind: str, records: list[HealthRecord], order: Mapping[str, int]
) -> tuple[RecordDecision | None, list[RecordDecision]]:
    """(primary, every other record of the kind with its reason)."""
    naps = [r for r in records if r.nap]
    ranked = sorted((r for r in records if not r.nap), key=lambda r: _rank(r, order))
    others = [RecordDecision(r, "nap", NAP_REASON) for r in naps]
    if not ranked:
        return None, others
    best, rest = ranked[0], ranked[1:]
    if rest:
        why = f"primary {kind}: {outranks(best, rest[0], order)}"
    else:
        why = f"primary {kind}: the only {kind} of the day"
    others += [
        RecordDecision(r, "duplicate", f"duplicate of {best.id}: {outranks(best, r, order)}")
        for r in rest
    ]
    return RecordDecision(best, "primary", why), others


def _merge(
    feeders: list[HealthRecord],
) -> tuple[dict[str, Any], dict[str, FieldSource], dict[UUID, list[str]]]:
    metrics: dict[str, Any] = {}
    sources: dict[str, FieldSource] = {}
    given: dict[UUID, list[str]] = {}
    for record in feeders:
        for name in sorted(record.metrics):
            value = record.metrics[name]
            if value is None or name in NOT_METRICS or name in metrics:
                continue
            metrics[name] = value
            sources[name] = FieldSource(record.id, record.source, record.kind)
            given.setdefault(record.id, []).append(name)
    return metrics, sources, given


def _daily_reason(record: HealthRecord, fields: list[str] | None) -> str:
    if not fields:
        return f"daily: {label(record)} adds no field a higher-ranked record did not give"
    return f"daily: {label(record)} gives " + ", ".join(fields)


def elect_day(
    day: date,
    records: Iterable[HealthRecord],
    priorities: Mapping[str, Mapping[str, int]] = DEFAULT_HEALTH_PRIORITIES,
) -> DayView:
    """The view of one day from that day's active records (any order, any kinds)."""
    members = sorted(records, key=lambda r: (r.kind, r.order_key))
    if any(r.day != day for r in members):
        raise ValueError(f"a record of another day was given for {day}")
    by_kind = {kind: [r for r in members if r.kind == kind] for kind in HEALTH_KINDS}
    sleep, sleep_rest = _elect_kind("sleep", by_kind["sleep"], order_for("sleep", priorities))
    recovery, recovery_rest = _elect_kind(
        "recovery", by_kind["recovery"], order_for("recovery", priorities)
    )
    daily_order = order_for("daily", priorities)
    dailies = sorted(by_kind["daily"], key=lambda r: _rank(r, daily_order))
    feeders = [d.record for d in (sleep, recovery) if d is not None] + dailies
    metrics, sources, given = _merge(feeders)
    decided = [d for d in (sleep, recovery) if d is not None] + sleep_rest + recovery_rest
    decided += [RecordDecision(r, "daily", _daily_reason(r, given.get(r.id))) for r in dailies]
    decided.sort(key=lambda d: (d.record.kind, d.record.order_key))
    return DayView(
        day=day,
        sleep=sleep,
        recovery=recovery,
        decisions=tuple(decided),
        metrics=metrics,
        field_sources=sources,
        reason=_day_reason(sleep, recovery, by_kind),
    )


def _day_reason(
    sleep: RecordDecision | None,
    recovery: RecordDecision | None,
    by_kind: Mapping[str, list[HealthRecord]],
) -> str:
    parts = []
    for kind, decision in (("sleep", sleep), ("recovery", recovery)):
        if decision is not None:
            parts.append(decision.reason)
        elif by_kind[kind]:
            parts.append(f"no primary {kind}: only naps")
        else:
            parts.append(f"no {kind}")
    if by_kind["daily"]:
        parts.append(f"{len(by_kind['daily'])} daily record(s) fill the remaining fields")
    return "; ".join(parts)


def elect(
    records: Iterable[HealthRecord],
    priorities: Mapping[str, Mapping[str, int]] = DEFAULT_HEALTH_PRIORITIES,
) -> dict[date, DayView]:
    """Every day the records touch, each elected on its own."""
    by_day: dict[date, list[HealthRecord]] = {}
    for record in records:
        by_day.setdefault(record.day, []).append(record)
    return {day: elect_day(day, by_day[day], priorities) for day in sorted(by_day)}
