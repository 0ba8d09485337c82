"""Payloads of the events ingest publishes on `ingest.records` (DESIGN.md §2).

Event-carried state: a consumer gets everything it needs to place the record
without calling ingest back, samples included, compact and columnar: one list
per channel, not one object per second. A recording longer than
MAX_EVENT_SAMPLES points is thinned evenly to fit (every k-th point, k the
smallest that fits), which keeps an event under about a megabyte; the full
streams stay in ingest's record. `revision` is an additive field: it orders one
record's events, since delivery order is not guaranteed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aurora_ingest.records.models import Record

PRODUCER = "ingest"
# Three hours at 1 Hz: longer recordings are thinned in the event (not in storage).
MAX_EVENT_SAMPLES = 10_800
WORKOUT_INGESTED = "workout.ingested"
WORKOUT_REMOVED = "workout.removed"
HEALTH_INGESTED = "health.ingested"
# Additive to DESIGN.md's table: a provider can delete a sleep or recovery too.
HEALTH_REMOVED = "health.removed"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _common(record: Record) -> dict[str, Any]:
    return {
        "record_id": str(record.id),
        "revision": record.revision,
        "source": record.source,
        "origin_device": record.origin_device,
        "external_id": record.external_id,
        "start": rfc3339(record.start_at),
        "end": rfc3339(record.end_at) if record.end_at else None,
        "tz_offset_min": record.tz_offset_min,
        "metrics": dict(record.metrics),
        "details": dict(record.details),
    }


def compact_samples(
    samples: dict[str, list[Any]] | None, max_points: int = MAX_EVENT_SAMPLES
) -> dict[str, Any] | None:
    """The samples as they travel: unchanged when short, else every k-th point.

    `step` says how many stored points each travelling point stands for, so a
    consumer summing time in zones weighs each point by it.
    """
    if samples is None:
        return None
    length = len(samples.get("t", []))
    if length <= max_points:
        return samples
    step = -(-length // max_points)  # ceiling division
    thinned: dict[str, Any] = {name: values[::step] for name, values in samples.items()}
    thinned["step"] = step
    thinned["points_stored"] = length
    return thinned


def workout_ingested(record: Record) -> dict[str, Any]:
    return {
        **_common(record),
        "sport": record.sport,
        "duration_s": record.duration_s,
        "samples": compact_samples(record.samples),
    }


def health_ingested(record: Record) -> dict[str, Any]:
    return {
        **_common(record),
        "kind": record.kind,
        "date": record.local_date.isoformat() if record.local_date else None,
    }


def record_removed(record: Record) -> dict[str, Any]:
    return {
        "record_id": str(record.id),
        "revision": record.revision,
        "kind": record.kind,
        "source": record.source,
        "external_id": record.external_id,
    }
