"""Hand-built workout records for the resolution tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aurora_dedup.resolution.rules import Group, WorkoutRecord

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def rec(
    source: str = "garmin",
    *,
    start_min: float = 0,
    minutes: float | None = 60,
    duration_min: float | None = None,
    sport: str = "ride",
    device: str | None = None,
    external_id: str | None = None,
    rid: uuid.UUID | None = None,
    hr: float | None = None,
    distance: float | None = None,
    power: float | None = None,
    tz: int | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> WorkoutRecord:
    start = T0 + timedelta(minutes=start_min)
    end = None if minutes is None else start + timedelta(minutes=minutes)
    duration = duration_min if duration_min is not None else (minutes or 0)
    return WorkoutRecord(
        id=rid or uuid.uuid4(),
        source=source,
        external_id=external_id or uuid.uuid4().hex,
        origin_device=device,
        sport=sport,
        start=start,
        end=end,
        duration_s=duration * 60,
        tz_offset_min=tz,
        distance_m=distance,
        avg_hr=hr,
        avg_power=power,
        metrics=dict(metrics or {}),
    )


def ids(records: Iterable[WorkoutRecord]) -> frozenset[uuid.UUID]:
    return frozenset(r.id for r in records)


def partition(groups: Iterable[Group]) -> set[frozenset[uuid.UUID]]:
    return {ids(g.records) for g in groups}


def reasons(group: Group) -> dict[uuid.UUID, str]:
    return {d.record.id: d.reason for d in group.duplicates}
