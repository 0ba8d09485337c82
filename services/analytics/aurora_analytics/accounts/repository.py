"""Every analytics row that names a user, for erasure and export. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import delete, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_analytics.workouts.orm import Workout
from aurora_shared.export import EXPORT_BATCH


async def erase_rows(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Workouts, tombstones included: a tombstone still says the user trained then."""
    result = await session.execute(delete(Workout).where(Workout.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def live_workouts(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[Workout]:
    """Tombstones carry no workout data, only an id dedup withdrew; they are not exported."""
    stream = await session.stream_scalars(
        select(Workout)
        .where(Workout.user_id == user_id, Workout.removed == false())
        .order_by(Workout.start_at, Workout.canonical_id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for row in stream:
        yield row
