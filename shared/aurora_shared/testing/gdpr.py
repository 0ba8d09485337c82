"""Test helpers for erasure and access: identity's events, and "what is left of this user?".

The questions are asked of the database catalogue and of Redis itself, not of
the ORM, so a table or stream added later without erasure code fails the tests.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_shared.access import PrincipalDependency, guarded_routes
from aurora_shared.accounts import (
    GRANT_CHANGED,
    IDENTITY_STREAM,
    USER_DELETED,
    USER_PURGED,
)
from aurora_shared.bus.consumer import Handler, dlq_stream
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.relay import entry_fields
from aurora_shared.config import asyncpg_url

__all__ = [
    "IDENTITY_STREAM",
    "deliver",
    "grant_changed",
    "guarded_requests",
    "rows_naming",
    "stream_entries_naming",
    "user_deleted",
    "user_purged",
    "xadd_event",
]


def _identity_event(event_type: str, user_id: uuid.UUID, payload: dict[str, Any]) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=datetime.now(UTC),
        producer="identity",
        user_id=user_id,
        payload=payload,
    )


def user_deleted(user_id: uuid.UUID, deleted_at: datetime | None = None) -> Envelope:
    at = (deleted_at or datetime.now(UTC)).isoformat()
    return _identity_event(USER_DELETED, user_id, {"user_id": str(user_id), "deleted_at": at})


def user_purged(user_id: uuid.UUID) -> Envelope:
    return _identity_event(USER_PURGED, user_id, {"user_id": str(user_id)})


def grant_changed(
    *,
    grant_id: uuid.UUID,
    athlete_id: uuid.UUID,
    coach_id: uuid.UUID,
    active: bool,
    changed_at: datetime,
    scopes: Iterable[str] = ("read",),
) -> Envelope:
    return _identity_event(
        GRANT_CHANGED,
        athlete_id,
        {
            "grant_id": str(grant_id),
            "athlete_id": str(athlete_id),
            "coach_id": str(coach_id),
            "scopes": list(scopes),
            "active": active,
            "changed_at": changed_at.isoformat(),
        },
    )


async def deliver(
    sessions: async_sessionmaker[AsyncSession], handlers: Mapping[str, Handler], event: Envelope
) -> None:
    """One event in its own transaction, as the bus consumer runs a handler."""
    async with sessions() as session, session.begin():
        await handlers[event.type](session, event)


async def xadd_event(redis: Redis, stream: str, event: Envelope) -> str:
    """Put an event on a stream exactly as the relay would."""
    entry_id = await redis.xadd(
        stream, entry_fields(str(event.id), event.type, event.model_dump_json())
    )
    return str(entry_id)


def guarded_requests(app: FastAPI, guard: PrincipalDependency) -> list[tuple[str, str]]:
    """(method, path) of every route behind the guard, path parameters filled with fresh ids."""
    requests: list[tuple[str, str]] = []
    for route in guarded_routes(app, guard):
        path = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), route.path)
        requests.extend((method, path) for method in route.methods)
    return requests


async def rows_naming(
    database_url: str,
    schema: str,
    user_id: uuid.UUID,
    *,
    exclude: Iterable[str] = (),
) -> dict[str, int]:
    """Rows per table of `schema` whose `user_id` column is the user (every such table listed).

    Tables are found in information_schema, not in the models: a table nobody
    remembered to erase is still counted.
    """
    skip = set(exclude)
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        tables = await conn.fetch(
            "SELECT c.table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t "
            "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = $1 AND c.column_name = 'user_id' "
            "  AND t.table_type = 'BASE TABLE' ORDER BY c.table_name",
            schema,
        )
        counts: dict[str, int] = {}
        for row in tables:
            name = row["table_name"]
            if name in skip:
                continue
            counts[name] = await conn.fetchval(
                f'SELECT count(*) FROM {schema}."{name}" WHERE user_id = $1', user_id
            )
        return counts
    finally:
        await conn.close()


async def stream_entries_naming(
    redis: Redis, streams: Iterable[str], user_id: uuid.UUID
) -> dict[str, int]:
    """Entries per stream (and its dead-letter stream) whose envelope's user_id is the user."""
    counts: dict[str, int] = {}
    for stream in streams:
        for name in (stream, dlq_stream(stream)):
            found = 0
            for _entry_id, fields in await redis.xrange(name):
                raw = fields.get("event")
                if raw and json.loads(raw).get("user_id") == str(user_id):
                    found += 1
            counts[name] = found
    return counts
