"""The relay's linger: commits right behind the one that woke it share its batch."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis
from sqlalchemy import text

from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import OutboxRelay

from .conftest import SCHEMA, STREAM, BusEnv


async def _write_one(env: BusEnv) -> None:
    event = new_event("thing.happened", producer="test", user_id=uuid.uuid4(), payload={})
    async with env.sessionmaker() as session, session.begin():
        await enqueue(session, env.tables.outbox, STREAM, event)


async def test_commits_during_the_linger_are_published_in_one_batch(
    bus_env: BusEnv, redis: Redis
) -> None:
    relay = OutboxRelay(
        bus_env.engine, redis, SCHEMA, service="test", poll_interval_s=5.0, linger_s=0.5
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(0.5)  # the relay is idle and LISTENing
        await _write_one(bus_env)
        await asyncio.sleep(0.1)  # well inside the linger that the first NOTIFY started
        await _write_one(bus_env)
        async with asyncio.timeout(5):
            while await redis.xlen(STREAM) < 2:
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    async with bus_env.engine.connect() as conn:
        batches = await conn.scalar(
            text(f"SELECT count(DISTINCT published_at) FROM {SCHEMA}.outbox")
        )
    assert batches == 1  # published_at is the relay transaction's now()
