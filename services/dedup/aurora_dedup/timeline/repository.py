"""Queries of the timeline tables. Only flushes; the caller's edge commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord

Window = tuple[datetime, datetime]


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise one user's resolutions across worker processes until the transaction ends.

    Two workers resolving overlapping windows of one user from stale snapshots
    could each write half of a grouping; with the lock, each sees the other's result.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"dedup:user:{user_id}"},
    )


async def record_for_update(session: AsyncSession, record_id: uuid.UUID) -> SourceRecord | None:
    result = await session.execute(
        select(SourceRecord).where(SourceRecord.id == record_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def record_by_key(
    session: AsyncSession, user_id: uuid.UUID, source: str, external_id: str
) -> SourceRecord | None:
    result = await session.execute(
        select(SourceRecord).where(
            SourceRecord.user_id == user_id,
            SourceRecord.source == source,
            SourceRecord.external_id == external_id,
        )
    )
    return result.scalar_one_or_none()


def merge_windows(windows: Iterable[Window]) -> list[Window]:
    merged: list[Window] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


async def active_closure(
    session: AsyncSession,
    user_id: uuid.UUID,
    windows: Iterable[Window],
    canonical_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, SourceRecord]:
    """The user's active records in the windows, closed under overlap and shared canonicals.

    A group is a chain of overlapping records, so resolving a set closed under
    "overlaps a member" and "shares a canonical with a member" gives exactly the
    groups a resolution of all the user's records would give for those records.
    """
    found: dict[uuid.UUID, SourceRecord] = {}
    seen_canonicals: set[uuid.UUID] = set()
    pending_windows = merge_windows(windows)
    pending_canonicals = set(canonical_ids)
    while pending_windows or pending_canonicals:
        seen_canonicals |= pending_canonicals
        conditions: list[ColumnElement[bool]] = [
            and_(SourceRecord.start_at < hi, SourceRecord.span_end_at > lo)
            for lo, hi in pending_windows
        ]
        if pending_canonicals:
            conditions.append(SourceRecord.canonical_id.in_(pending_canonicals))
        stmt = select(SourceRecord).where(
            SourceRecord.user_id == user_id,
            SourceRecord.removed == false(),
            or_(*conditions),
        )
        if found:
            stmt = stmt.where(SourceRecord.id.not_in(found.keys()))
        fresh = list((await session.execute(stmt)).scalars())
        for row in fresh:
            found[row.id] = row
        pending_windows = merge_windows(
            (row.start_at, row.span_end_at)
            for row in fresh
            if row.start_at is not None and row.span_end_at is not None
        )
        pending_canonicals = {
            row.canonical_id for row in fresh if row.canonical_id is not None
        } - seen_canonicals
    return found


async def canonicals(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CanonicalWorkout]:
    wanted = set(ids)
    if not wanted:
        return {}
    result = await session.execute(select(CanonicalWorkout).where(CanonicalWorkout.id.in_(wanted)))
    return {row.id: row for row in result.scalars()}


async def canonicals_for_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    start_from: datetime | None,
    start_to: datetime | None,
    limit: int,
) -> Sequence[CanonicalWorkout]:
    stmt = select(CanonicalWorkout).where(CanonicalWorkout.user_id == user_id)
    if start_from is not None:
        stmt = stmt.where(CanonicalWorkout.start_at >= start_from)
    if start_to is not None:
        stmt = stmt.where(CanonicalWorkout.start_at < start_to)
    stmt = stmt.order_by(CanonicalWorkout.start_at.desc(), CanonicalWorkout.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def canonical_of_user(
    session: AsyncSession, user_id: uuid.UUID, canonical_id: uuid.UUID
) -> CanonicalWorkout | None:
    result = await session.execute(
        select(CanonicalWorkout).where(
            CanonicalWorkout.id == canonical_id, CanonicalWorkout.user_id == user_id
        )
    )
    return result.scalar_one_or_none()


async def members(
    session: AsyncSession, user_id: uuid.UUID, canonical_ids: Iterable[uuid.UUID]
) -> Sequence[SourceRecord]:
    wanted = set(canonical_ids)
    if not wanted:
        return []
    stmt = (
        select(SourceRecord)
        .where(SourceRecord.user_id == user_id, SourceRecord.canonical_id.in_(wanted))
        .order_by(SourceRecord.source, SourceRecord.external_id, SourceRecord.id)
    )
    return (await session.execute(stmt)).scalars().all()
