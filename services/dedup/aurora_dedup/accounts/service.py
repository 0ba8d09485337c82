"""Dedup's handling of identity's events: block at once on deletion, erase on purge."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.accounts import repository
from aurora_dedup.accounts.orm import MIRROR
from aurora_dedup.accounts.schemas import ExportedSourceRecord, ExportedWorkout
from aurora_dedup.db import BUS, STREAM
from aurora_dedup.health.service import erase_health_rows
from aurora_dedup.registers import lock_user
from aurora_shared.accounts import ServicePurge
from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.erasure import RedisOpener

# What a purge erases besides the service's own rows (IdentityMirror.finish_purge).
PURGE = ServicePurge(BUS.outbox, [STREAM], logging.getLogger("aurora.dedup.accounts"))


async def purge_user(session: AsyncSession, redis: Redis, user_id: uuid.UUID) -> None:
    """Every row naming the user, its outbox rows and its events on dedup's stream.

    Under the user's resolution lock: a workout event being applied finishes
    first, and one applied after sees the erasure log and is dropped.
    """
    await lock_user(session, user_id)
    erased = await repository.erase_rows(session, user_id)
    erased |= await erase_health_rows(session, user_id)
    await MIRROR.finish_purge(session, redis, PURGE, user_id, erased)


def handlers(open_redis: RedisOpener) -> dict[str, Handler]:
    """The handlers of `identity.events`; `open_redis` gives the purge its Redis."""
    return MIRROR.handlers(purge_user, open_redis)


async def exported_workouts(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedWorkout]:
    async for row in repository.all_canonicals(session, user_id):
        yield ExportedWorkout.model_validate(row)


async def exported_source_records(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedSourceRecord]:
    async for row in repository.all_source_records(session, user_id):
        yield ExportedSourceRecord.model_validate(row)
