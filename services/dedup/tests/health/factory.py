"""Health envelopes as ingest publishes them, and a view of dedup's resulting state.

Envelopes and `apply` are timeline/factory.py's, which serve both domains.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.db import STREAM
from aurora_dedup.health.orm import HealthDay, HealthRecord
from aurora_shared.bus.envelope import Envelope

from ..timeline.factory import envelope, queued, registers_of

DAY = date(2024, 5, 2)
BEDTIME = datetime(2024, 5, 1, 21, 30, tzinfo=UTC)


@dataclass
class Health:
    """One health record as ingest knows it; `ingested`/`removed` make its events."""

    user_id: uuid.UUID
    source: str = "whoop"
    kind: str = "sleep"
    day: date = DAY
    hours: float = 8
    device: str | None = None
    metrics: dict[str, Any] = field(default_factory=lambda: {"asleep_s": 26000.0})
    details: dict[str, Any] = field(default_factory=dict)
    record_id: uuid.UUID = field(default_factory=uuid.uuid4)
    external_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def payload(self) -> dict[str, Any]:
        start = BEDTIME + (self.day - DAY)
        return {
            "record_id": str(self.record_id),
            "source": self.source,
            "origin_device": self.device,
            "external_id": self.external_id,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(hours=self.hours)).isoformat(),
            "tz_offset_min": 120,
            "metrics": self.metrics,
            "details": self.details,
            "kind": self.kind,
            "date": self.day.isoformat(),
            "a_field_from_the_future": True,
        }

    def ingested(self, seq: int, *, revision: int | None = None, **changes: Any) -> Envelope:
        """Event number `seq`; ingest's revision follows it unless given."""
        payload = replace(self, **changes).payload()
        payload["revision"] = seq if revision is None else revision
        return envelope("health.ingested", self.user_id, payload, seq)

    def removed(self, seq: int, *, revision: int | None = None) -> Envelope:
        payload = {
            "record_id": str(self.record_id),
            "revision": seq if revision is None else revision,
            "kind": self.kind,
            "source": self.source,
            "external_id": self.external_id,
        }
        return envelope("health.removed", self.user_id, payload, seq)


async def records(sessions: async_sessionmaker[AsyncSession]) -> dict[uuid.UUID, HealthRecord]:
    return await registers_of(sessions, HealthRecord)


async def days(
    sessions: async_sessionmaker[AsyncSession],
) -> dict[tuple[uuid.UUID, date], HealthDay]:
    async with sessions() as session:
        rows = (await session.execute(select(HealthDay))).scalars().all()
        return {(r.user_id, r.local_date): r for r in rows}


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[Envelope]:
    """Every queued event; health handlers publish on dedup.timeline only."""
    events = await queued(sessions)
    assert {stream for stream, _ in events} <= {STREAM}
    return [event for _, event in events]
