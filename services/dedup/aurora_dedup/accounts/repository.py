"""Every dedup row that names a user, for erasure and export. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.controls.orm import PriorityOverride, WorkoutLink
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_shared.export import EXPORT_BATCH


async def erase_rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Rows deleted per table; canonicals before records, since they point at records.

    One statement for all of the user's records: `duplicate_of` links records of
    that same user, and a NO ACTION foreign key is checked at the end of the statement.
    The athlete's controls (links between records, priority choices) go too.
    """
    erased: dict[str, int] = {}
    for table in (CanonicalWorkout, SourceRecord, WorkoutLink, PriorityOverride):
        result = await session.execute(delete(table).where(table.user_id == user_id))
        erased[table.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
    return erased


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
