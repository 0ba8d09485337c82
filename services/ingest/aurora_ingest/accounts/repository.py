"""Every ingest row that names a user, for erasure and export. Only flushes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.apple.models import APPLE_SAMPLES, AppleImport
from aurora_ingest.connections.models import Connection
from aurora_ingest.jobs.models import ProviderJob
from aurora_ingest.raw.models import RawPayload
from aurora_ingest.records.models import Record
from aurora_shared.export import EXPORT_BATCH


async def erase_rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Every table naming the user: records (removed ones too: they still hold the
    workout), raw provider payloads, queued provider work, provider connections with
    their encrypted tokens, and Apple Health imports with their staged samples."""
    imports = select(AppleImport.id).where(AppleImport.user_id == user_id)
    # Samples are found through their imports (the index they have), so they go first.
    samples = await session.execute(
        delete(APPLE_SAMPLES).where(APPLE_SAMPLES.c.import_id.in_(imports))
    )
    erased: dict[str, int] = {}
    for table in (Record, RawPayload, ProviderJob, Connection, AppleImport):
        result = await session.execute(delete(table).where(table.user_id == user_id))
        erased[table.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
    erased["apple_samples"] = int(samples.rowcount)  # type: ignore[attr-defined]
    return erased


async def all_raw_payloads(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[RawPayload]:
    stream = await session.stream_scalars(
        select(RawPayload)
        .where(RawPayload.user_id == user_id)
        .order_by(RawPayload.received_at, RawPayload.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for payload in stream:
        yield payload


async def all_connections(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[Connection]:
    rows = await session.scalars(
        select(Connection).where(Connection.user_id == user_id).order_by(Connection.provider)
    )
    for row in rows:
        yield row


async def all_records(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[Record]:
    stream = await session.stream_scalars(
        select(Record)
        .where(Record.user_id == user_id)
        .order_by(Record.start_at, Record.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for record in stream:
        yield record
