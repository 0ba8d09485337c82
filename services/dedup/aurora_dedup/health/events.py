"""Health events dedup reads from ingest and the one it publishes.

Inbound: `health.ingested` and `health.removed` on `ingest.records` (ingest's
records/events.py). The models ignore fields they do not know, so ingest can
evolve additively; a payload that breaks the contract raises
ContractViolationError, which ends in the dead-letter stream.

Outbound: `health.resolved` on `dedup.timeline`, one per user and local day whose
view changed (never for an unchanged view). Payload:

    user_id, date (ISO local date), removed (bool),
    sleep, recovery: the primary record (record_id, kind, source, origin_device,
        recorded_by, external_id, start, end, tz_offset_min, metrics) or null,
    duplicate_record_ids: the records that lost an election, and naps,
    records: every record of the day {record_id, kind, source, origin_device,
        recorded_by, role (primary|duplicate|nap|daily), reason},
    metrics: the merged view, field_sources: {field: {record_id, source, kind}},
    reasons: {"sleep": str|null, "recovery": str|null}, reason: the day in one line.

A day whose last record was removed is announced once with `removed: true`,
null primaries and empty collections: a consumer drops its copy of that day.
DESIGN.md §2 lists `health.resolved` per kind; dedup publishes one event per
day carrying both kinds, since the merged view is what a day's readers need
and a per-kind event could not say which fields came from where.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from pydantic import Field, field_validator

from aurora_dedup.registers import RecordEvent, RecordIngested
from aurora_dedup.resolution.health import HealthKind

HEALTH_INGESTED: Final = "health.ingested"
HEALTH_REMOVED: Final = "health.removed"
HEALTH_RESOLVED: Final = "health.resolved"

_NAP_VALUES: Final = (True, 1)
MAX_METRICS: Final = 200


class HealthIngested(RecordIngested):
    kind: HealthKind
    # The athlete's local day the record belongs to; only the source knows it.
    date: dt.date
    metrics: dict[str, Any] = Field(default_factory=dict, max_length=MAX_METRICS)
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("details", mode="before")
    @classmethod
    def _details(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def nap(self) -> bool:
        """WHOOP marks naps in details.nap and metrics.nap (1.0); only a sleep can be one."""
        if self.kind != "sleep":
            return False
        return self.details.get("nap") in _NAP_VALUES or self.metrics.get("nap") in _NAP_VALUES


class HealthRemoved(RecordEvent):
    kind: HealthKind
