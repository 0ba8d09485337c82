"""Writes are single upserts guarded by the event version, so concurrent workers are safe."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_analytics.workouts.orm import Workout


async def upsert_if_newer(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert, or overwrite only a row of the same user set by an older event."""
    insert_stmt = insert(Workout).values(**values, updated_at=func.now())
    excluded = insert_stmt.excluded
    stmt = insert_stmt.on_conflict_do_update(
        index_elements=[Workout.canonical_id],
        set_={
            name: excluded[name]
            for name in (*values.keys() - {"canonical_id", "user_id"}, "updated_at")
        },
        where=(Workout.user_id == excluded.user_id)
        & (
            tuple_(Workout.last_event_at, Workout.last_event_id)
            < tuple_(excluded.last_event_at, excluded.last_event_id)
        ),
    ).returning(Workout.canonical_id)
    return (await session.execute(stmt)).first() is not None


async def live_for_user(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int
) -> Sequence[Workout]:
    stmt = (
        select(Workout)
        .where(Workout.user_id == user_id, Workout.removed == false())
        .order_by(Workout.start_at.desc(), Workout.canonical_id.desc())
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


def version(occurred_at: datetime, event_id: uuid.UUID) -> dict[str, Any]:
    return {"last_event_at": occurred_at, "last_event_id": event_id}
