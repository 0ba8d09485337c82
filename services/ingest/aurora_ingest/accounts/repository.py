"""Every ingest row that names a user, for erasure and export. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.records.models import Record
from aurora_shared.export import EXPORT_BATCH


async def erase_rows(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Records, removed ones included: a soft-removed record still holds the workout."""
    result = await session.execute(delete(Record).where(Record.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def all_records(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[Record]:
    stream = await session.stream_scalars(
        select(Record)
        .where(Record.user_id == user_id)
        .order_by(Record.start_at, Record.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for record in stream:
        yield record
