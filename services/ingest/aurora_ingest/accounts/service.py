"""Ingest's handling of identity's events: block at once on deletion, erase on purge."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.accounts import repository
from aurora_ingest.accounts.models import MIRROR
from aurora_ingest.accounts.schemas import (
    ExportedConnection,
    ExportedRawPayload,
    ExportedRecord,
)
from aurora_ingest.db import BUS, STREAM
from aurora_ingest.uploads.service import purge_user_uploads
from aurora_shared.accounts import ServicePurge, user_lock
from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.erasure import RedisOpener

# What a purge erases besides the service's own rows (IdentityMirror.finish_purge).
PURGE = ServicePurge(BUS.outbox, [STREAM], logging.getLogger("aurora.ingest.accounts"))


async def purge_user(session: AsyncSession, redis: Redis, user_id: uuid.UUID) -> None:
    """Every row naming the user, its outbox rows and its events on ingest's streams."""
    await user_lock(session, user_id, exclusive=True)
    erased = await repository.erase_rows(session, user_id)
    erased.update(await purge_user_uploads(session, user_id))
    await MIRROR.finish_purge(session, redis, PURGE, user_id, erased)


def handlers(open_redis: RedisOpener) -> dict[str, Handler]:
    """The handlers of `identity.events`; `open_redis` gives the purge its Redis."""
    return MIRROR.handlers(purge_user, open_redis)


async def exported_records(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedRecord]:
    async for record in repository.all_records(session, user_id):
        yield ExportedRecord.of_record(record)


async def exported_connections(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedConnection]:
    async for connection in repository.all_connections(session, user_id):
        yield ExportedConnection.of_connection(connection)


async def exported_raw_payloads(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedRawPayload]:
    async for payload in repository.all_raw_payloads(session, user_id):
        yield ExportedRawPayload.of_payload(payload)
