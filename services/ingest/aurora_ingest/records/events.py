"""Payloads of the events ingest publishes on `ingest.records` (DESIGN.md §2).

Event-carried state: a consumer gets everything it needs to place the record
without calling ingest back, samples included (compact and columnar: one list
per channel, not one object per second; a 12-hour recording at 1 Hz stays well
under a megabyte). `revision` is an additive field: it orders one record's
events, since delivery order is not guaranteed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aurora_ingest.records.models import Record

PRODUCER = "ingest"
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


def workout_ingested(record: Record) -> dict[str, Any]:
    return {
        **_common(record),
        "sport": record.sport,
        "duration_s": record.duration_s,
        "samples": record.samples,
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
