"""Queries on `audit_log`: insert and read, nothing else exists for it."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit.models import AuditEntry
from aurora_identity.users.models import User


async def insert_entry(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(insert(AuditEntry).values(**values).returning(AuditEntry.id))
    entry_id: int = result.scalar_one()
    return entry_id


async def emails_of(session: AsyncSession, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Soft-deleted users still have their email until the purge; purged ones have none."""
    if not user_ids:
        return {}
    result = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return {row.id: row.email for row in result}


@dataclass(frozen=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    subject_user_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None


async def page(session: AsyncSession, where: AuditFilter, limit: int) -> list[AuditEntry]:
    """Newest first by id; the cursor is the last id of the previous page (keyset paging)."""
    query = select(AuditEntry)
    if where.actor_id is not None:
        query = query.where(AuditEntry.actor_id == where.actor_id)
    if where.subject_user_id is not None:
        query = query.where(AuditEntry.subject_user_id == where.subject_user_id)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    if where.before_id is not None:
        query = query.where(AuditEntry.id < where.before_id)
    result = await session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))
    return list(result.scalars())
