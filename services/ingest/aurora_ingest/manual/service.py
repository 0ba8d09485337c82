"""Turning a hand-entered workout into a record of source `manual`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.manual.rules import resolve_timing
from aurora_ingest.manual.schemas import ManualWorkoutIn
from aurora_ingest.records import service as records
from aurora_ingest.records.rules import WorkoutFields

SOURCE = "manual"


def to_fields(body: ManualWorkoutIn, *, now: datetime) -> WorkoutFields:
    timing = resolve_timing(body.start, body.end, body.duration_s, now=now)
    return WorkoutFields(
        sport=body.sport,
        start_at=timing.start_at,
        end_at=timing.end_at,
        duration_s=timing.duration_s,
        tz_offset_min=timing.tz_offset_min,
        metrics=body.metrics.summary() if body.metrics else {},
        # Nobody's device recorded it: the athlete did, so the source is the origin.
        origin_device=None,
    )


async def accept_workout(
    session: AsyncSession, *, user_id: uuid.UUID, body: ManualWorkoutIn
) -> uuid.UUID:
    external_id = body.client_ref or str(uuid.uuid4())
    return await records.store_workout(
        session,
        user_id=user_id,
        source=SOURCE,
        external_id=external_id,
        fields=to_fields(body, now=datetime.now(UTC)),
    )


async def remove_workout(
    session: AsyncSession, *, user_id: uuid.UUID, record_id: uuid.UUID
) -> None:
    await records.remove_workout(session, user_id=user_id, record_id=record_id, source=SOURCE)
