"""Payloads of the events ingest publishes on `ingest.records` (DESIGN.md §2).

Event-carried state: a consumer gets everything it needs to place the workout
without calling ingest back. `revision` is an additive field: it orders one
record's events, since delivery order is not guaranteed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aurora_ingest.records.models import Record

PRODUCER = "ingest"
WORKOUT_INGESTED = "workout.ingested"
WORKOUT_REMOVED = "workout.removed"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def workout_ingested(record: Record) -> dict[str, Any]:
    return {
        "record_id": str(record.id),
        "revision": record.revision,
        "source": record.source,
        "origin_device": record.origin_device,
        "external_id": record.external_id,
        "sport": record.sport,
        "start": rfc3339(record.start_at),
        "end": rfc3339(record.end_at) if record.end_at else None,
        "duration_s": record.duration_s,
        "tz_offset_min": record.tz_offset_min,
        "metrics": dict(record.metrics),
        # Manual entries have no samples; provider imports will carry a reference.
        "samples": None,
    }


def workout_removed(record: Record) -> dict[str, Any]:
    return {
        "record_id": str(record.id),
        "revision": record.revision,
        "source": record.source,
        "external_id": record.external_id,
    }
