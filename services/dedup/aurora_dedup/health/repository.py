"""Queries of the health tables. Only flushes; the caller's edge commits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.health.orm import HealthDay, HealthRecord
from aurora_shared.export import EXPORT_BATCH


async def active_records(
    session: AsyncSession, user_id: uuid.UUID, dates: Collection[date] | None
) -> Sequence[HealthRecord]:
    """The user's live records on the dates (all of them when `dates` is None)."""
    stmt = select(HealthRecord).where(
        HealthRecord.user_id == user_id, HealthRecord.removed == false()
    )
    if dates is not None:
        if not dates:
            return []
        stmt = stmt.where(HealthRecord.local_date.in_(dates))
    return (await session.execute(stmt)).scalars().all()


async def days(
    session: AsyncSession, user_id: uuid.UUID, dates: Collection[date] | None
) -> dict[date, HealthDay]:
    stmt = select(HealthDay).where(HealthDay.user_id == user_id)
    if dates is not None:
        if not dates:
            return {}
        stmt = stmt.where(HealthDay.local_date.in_(dates))
    return {row.local_date: row for row in (await session.execute(stmt)).scalars()}


@dataclass(frozen=True, slots=True, kw_only=True)
class DaysPage:
    """Days in [date_from, date_to) and before `before` (a cursor), newest first."""

    limit: int
    date_from: date | None = None
    date_to: date | None = None
    before: date | None = None


async def days_for_user(
    session: AsyncSession, user_id: uuid.UUID, page: DaysPage
) -> Sequence[HealthDay]:
    stmt = select(HealthDay).where(HealthDay.user_id == user_id)
    if page.date_from is not None:
        stmt = stmt.where(HealthDay.local_date >= page.date_from)
    if page.date_to is not None:
        stmt = stmt.where(HealthDay.local_date < page.date_to)
    if page.before is not None:
        stmt = stmt.where(HealthDay.local_date < page.before)
    stmt = stmt.order_by(HealthDay.local_date.desc()).limit(page.limit)
    return (await session.execute(stmt)).scalars().all()


async def records_by_id(
    session: AsyncSession, user_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, HealthRecord]:
    wanted = set(ids)
    if not wanted:
        return {}
    result = await session.execute(
        select(HealthRecord).where(HealthRecord.user_id == user_id, HealthRecord.id.in_(wanted))
    )
    return {row.id: row for row in result.scalars()}


async def erase_rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Days first: they point at records."""
    days_deleted = await session.execute(delete(HealthDay).where(HealthDay.user_id == user_id))
    records = await session.execute(delete(HealthRecord).where(HealthRecord.user_id == user_id))
    return {
        "health_days": int(days_deleted.rowcount),  # type: ignore[attr-defined]
        "health_records": int(records.rowcount),  # type: ignore[attr-defined]
    }


async def all_days(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[HealthDay]:
    stream = await session.stream_scalars(
        select(HealthDay)
        .where(HealthDay.user_id == user_id)
        .order_by(HealthDay.local_date)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for row in stream:
        yield row


async def all_records(session: AsyncSession, user_id: uuid.UUID) -> AsyncIterator[HealthRecord]:
    stream = await session.stream_scalars(
        select(HealthRecord)
        .where(HealthRecord.user_id == user_id)
        .order_by(HealthRecord.source, HealthRecord.external_id, HealthRecord.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for row in stream:
        yield row
