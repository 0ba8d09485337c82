"""Analytics' handling of identity's events: block at once on deletion, erase on purge."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_analytics.accounts import repository
from aurora_analytics.accounts.orm import MIRROR
from aurora_analytics.db import BUS, STREAM
from aurora_analytics.workouts.schemas import WorkoutItem
from aurora_shared.accounts import ServicePurge, user_lock
from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.erasure import RedisOpener

# What a purge erases besides the service's own rows (IdentityMirror.finish_purge).
PURGE = ServicePurge(BUS.outbox, [STREAM], logging.getLogger("aurora.analytics.accounts"))


async def purge_user(session: AsyncSession, redis: Redis, user_id: uuid.UUID) -> None:
    """Every row naming the user, its outbox rows and its events on analytics' stream.

    The exclusive user lock waits for timeline events being applied (they hold it
    shared); those applied afterwards see the erasure log and are dropped.
    """
    await user_lock(session, user_id, exclusive=True)
    workouts = await repository.erase_rows(session, user_id)
    await MIRROR.finish_purge(session, redis, PURGE, user_id, {"workouts": workouts})


def handlers(open_redis: RedisOpener) -> dict[str, Handler]:
    """The handlers of `identity.events`; `open_redis` gives the purge its Redis."""
    return MIRROR.handlers(purge_user, open_redis)


async def exported_workouts(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[WorkoutItem]:
    async for row in repository.live_workouts(session, user_id):
        yield WorkoutItem.model_validate(row)
