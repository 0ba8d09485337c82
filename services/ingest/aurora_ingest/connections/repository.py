"""Queries on `connections`. Only flushes: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.connections.models import Connection


async def find_by_provider_user(
    session: AsyncSession, provider: str, provider_user_id: str
) -> Connection | None:
    """The live connection of a provider account (a webhook's owner), revoked ones never."""
    return await session.scalar(
        select(Connection).where(
            Connection.provider == provider,
            Connection.provider_user_id == provider_user_id,
            Connection.status != "revoked",
        )
    )


async def get_for_user(
    session: AsyncSession, user_id: uuid.UUID, provider: str
) -> Connection | None:
    """The user's live connection to `provider`; a revoked one counts as none."""
    return await session.scalar(
        select(Connection).where(
            Connection.user_id == user_id,
            Connection.provider == provider,
            Connection.status != "revoked",
        )
    )


async def get_any_for_user(
    session: AsyncSession, user_id: uuid.UUID, provider: str, *, for_update: bool = False
) -> Connection | None:
    """The user's row for `provider` whatever its status (a reconnect reuses it)."""
    query = select(Connection).where(Connection.user_id == user_id, Connection.provider == provider)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_for_user(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Connection]:
    return (
        await session.scalars(
            select(Connection).where(Connection.user_id == user_id).order_by(Connection.provider)
        )
    ).all()


async def lock_connection(session: AsyncSession, connection_id: uuid.UUID) -> None:
    """One refresh at a time per connection, across processes, until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"aurora.ingest.connection:{connection_id}"},
    )


async def fresh(session: AsyncSession, connection_id: uuid.UUID) -> Connection | None:
    """Read the row as committed now, not as this session's identity map remembers it."""
    return await session.scalar(
        select(Connection)
        .where(Connection.id == connection_id)
        .execution_options(populate_existing=True)
    )


async def token_batch(
    session: AsyncSession, after: uuid.UUID | None, size: int
) -> Sequence[Connection]:
    """The next rows holding a token, locked so a concurrent refresh cannot be overwritten."""
    query = select(Connection).where(
        (Connection.access_token_enc.is_not(None)) | (Connection.refresh_token_enc.is_not(None))
    )
    if after is not None:
        query = query.where(Connection.id > after)
    return (
        await session.scalars(query.order_by(Connection.id).limit(size).with_for_update())
    ).all()


async def erase_for_user(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Erasure (user.purged): the rows go, tokens and history with them."""
    result = await session.execute(delete(Connection).where(Connection.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]
