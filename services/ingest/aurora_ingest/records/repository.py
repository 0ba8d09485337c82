"""Queries on `records`; callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.records.models import Record


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> Record | None:
    """The new row, or None when (user, source, external id) exists already.

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to
    finish, so two simultaneous deliveries never both insert nor fail with a 500.
    """
    statement = (
        insert(Record)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(index_elements=["user_id", "source", "external_id"])
        .returning(Record)
    )
    result = await session.scalars(statement, execution_options={"populate_existing": True})
    return result.one_or_none()


async def by_key_for_update(
    session: AsyncSession, *, user_id: uuid.UUID, source: str, external_id: str
) -> Record | None:
    result = await session.scalars(
        select(Record)
        .where(
            Record.user_id == user_id,
            Record.source == source,
            Record.external_id == external_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.one_or_none()


async def owned(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    record_id: uuid.UUID,
    source: str | None = None,
    for_update: bool = False,
) -> Record | None:
    """A live record of this user; another user's id is indistinguishable from a missing one."""
    statement = select(Record).where(
        Record.id == record_id, Record.user_id == user_id, Record.deleted_at.is_(None)
    )
    if source is not None:
        statement = statement.where(Record.source == source)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(statement)).one_or_none()


async def page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: str | None,
    limit: int,
    before: datetime | None,
    before_id: uuid.UUID | None,
) -> Sequence[Record]:
    """Newest first by start, keyset-paginated on (start_at, id) so ties never skip a row."""
    statement = select(Record).where(Record.user_id == user_id, Record.deleted_at.is_(None))
    if kind is not None:
        statement = statement.where(Record.kind == kind)
    if before is not None and before_id is not None:
        statement = statement.where(tuple_(Record.start_at, Record.id) < (before, before_id))
    elif before is not None:
        statement = statement.where(Record.start_at < before)
    statement = statement.order_by(Record.start_at.desc(), Record.id.desc()).limit(limit)
    return (await session.scalars(statement)).all()
