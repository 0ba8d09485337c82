"""Every dedup row that names a user, for erasure and export. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_shared.export import EXPORT_BATCH


async def erase_rows(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int]:
    """(canonical workouts, source records) deleted; canonicals first, they point at records.

    One statement for all of the user's records: `duplicate_of` links records of
    that same user, and a NO ACTION foreign key is checked at the end of the statement.
    """
    canonicals = await session.execute(
        delete(CanonicalWorkout).where(CanonicalWorkout.user_id == user_id)
    )
    records = await session.execute(delete(SourceRecord).where(SourceRecord.user_id == user_id))
    return int(canonicals.rowcount), int(records.rowcount)  # type: ignore[attr-defined]


async def all_canonicals(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[CanonicalWorkout]:
    stream = await session.stream_scalars(
        select(CanonicalWorkout)
        .where(CanonicalWorkout.user_id == user_id)
        .order_by(CanonicalWorkout.start_at, CanonicalWorkout.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for row in stream:
        yield row


async def all_source_records(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[SourceRecord]:
    stream = await session.stream_scalars(
        select(SourceRecord)
        .where(SourceRecord.user_id == user_id)
        .order_by(SourceRecord.source, SourceRecord.external_id, SourceRecord.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for row in stream:
        yield row
