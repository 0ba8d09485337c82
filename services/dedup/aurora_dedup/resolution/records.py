"""What the resolution core is given: one user's workout records and the athlete's overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple
from uuid import UUID

from aurora_dedup.resolution.priority import recording_source

_NO_METRICS: Mapping[str, Any] = MappingProxyType({})


class WorkoutRecord(NamedTuple):
    """One source record of a workout, as the rules see it.

    A NamedTuple rather than a frozen dataclass: as immutable, and built in half the
    time, which the benchmark command pays once per record.
    """

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
    metrics: Mapping[str, Any] = _NO_METRICS

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
        """The brand named by the record itself; copy chains are followed in provenance.py."""
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

    def __bool__(self) -> bool:
        return bool(self.same or self.apart)


NO_OVERRIDES = Overrides()
