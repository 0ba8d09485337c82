"""dedup.timeline events as dedup publishes them (written out: no import of dedup)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_analytics.workouts import service
from aurora_analytics.workouts.orm import Workout
from aurora_shared.bus.envelope import Envelope

EPOCH = datetime(2024, 6, 1, tzinfo=UTC)
T0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)


def resolved(
    user_id: uuid.UUID,
    canonical_id: uuid.UUID,
    seq: int,
    *,
    start_min: float = 0,
    minutes: float = 60,
    sport: str = "ride",
    source: str = "strava",
    metrics: dict[str, Any] | None = None,
) -> Envelope:
    start = T0 + timedelta(minutes=start_min)
    end = start + timedelta(minutes=minutes)
    record_id = uuid.uuid4()
    primary = {
        "record_id": str(record_id),
        "source": source,
        "origin_device": "Garmin Edge 530",
        "recorded_by": "garmin",
        "external_id": "123",
        "sport": sport,
        "start": start.isoformat(),
        "end": None,
        "duration_s": minutes * 60,
        "tz_offset_min": 60,
        "metrics": metrics or {"avg_hr": 140},
    }
    payload = {
        "canonical_id": str(canonical_id),
        "sport": sport,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "duration_s": minutes * 60,
        "metrics": metrics or {"avg_hr": 140},
        "primary": primary,
        "duplicate_record_ids": [],
        "duplicates": [],
        "reason": "primary: only record of this session",
    }
    return _envelope("workout.resolved", user_id, payload, seq)


def unresolved(user_id: uuid.UUID, canonical_id: uuid.UUID, seq: int) -> Envelope:
    payload = {
        "canonical_id": str(canonical_id),
        "primary_record_id": str(uuid.uuid4()),
        "superseded_by": None,
        "reason": "primary record was removed by its source",
    }
    return _envelope("workout.unresolved", user_id, payload, seq)


def _envelope(event_type: str, user_id: uuid.UUID, payload: dict[str, Any], seq: int) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=EPOCH + timedelta(seconds=seq),
        producer="dedup",
        user_id=user_id,
        payload=payload,
    )


HANDLERS = {
    "workout.resolved": service.apply_resolved,
    "workout.unresolved": service.apply_unresolved,
}


async def apply(sessions: async_sessionmaker[AsyncSession], event: Envelope) -> None:
    async with sessions() as session, session.begin():
        await HANDLERS[event.type](session, event)


async def workouts(sessions: async_sessionmaker[AsyncSession]) -> dict[uuid.UUID, Workout]:
    async with sessions() as session:
        rows = (await session.execute(select(Workout))).scalars().all()
        return {r.canonical_id: r for r in rows}
