"""The data services driven in one process, step by step, for cross-service tests.

Each service keeps its own relay and its own worker subscriptions (built by its
`subscriptions()`), exactly as its processes run them; `settle` moves events
until the suite is at rest, so a test can assert on the end state without sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from redis.asyncio import Redis

from aurora_analytics.main import SPEC as ANALYTICS
from aurora_dedup.main import SPEC as DEDUP
from aurora_identity.main import SPEC as IDENTITY
from aurora_ingest.main import SPEC as INGEST
from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.config import BusSettings
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.service import truncate_schema

SERVICES = (INGEST, DEDUP, ANALYTICS)


class Suite:
    """The three services' relays and workers, driven step by step."""

    def __init__(self, database_url: str, redis: Redis, stack: AsyncExitStack) -> None:
        self.database_url = database_url
        self.redis = redis
        self.engine = make_engine(database_url, pool_size=4)
        stack.push_async_callback(self.engine.dispose)
        self.sessions = make_sessionmaker(self.engine)
        self.consumers: list[StreamConsumer] = [
            StreamConsumer(
                redis=redis,
                sessionmaker=self.sessions,
                inbox=spec.inbox,
                stream=sub.stream,
                group=spec.name,
                consumer=f"{spec.name}-test",
                handlers=sub.handlers,
                settings=BusSettings(consumer_block_ms=20),
                service=spec.name,
            )
            for spec in SERVICES
            for sub in spec.subscriptions()
        ]
        self.relays = [
            OutboxRelay(self.engine, redis, spec.schema, service=spec.name) for spec in SERVICES
        ]

    async def start(self) -> None:
        for consumer in self.consumers:
            await consumer.ensure_group()

    async def settle(self) -> None:
        """Relay and consume until nothing moves: the suite at rest."""
        for _ in range(20):
            moved = 0
            for relay in self.relays:
                moved += await relay.drain()
            for consumer in self.consumers:
                moved += await consumer.read_new()
            if not moved:
                return
        raise AssertionError("the suite did not come to rest")


async def migrate(specs: Sequence[ServiceSpec], database_url: str) -> None:
    for spec in specs:
        # alembic runs its own event loop: keep it off this one.
        await asyncio.to_thread(spec.migrate, database_url)


@asynccontextmanager
async def running_suite(database_url: str, redis: Redis) -> AsyncIterator[Suite]:
    """Every schema migrated (identity's too), the data services' schemas emptied."""
    await migrate([*SERVICES, IDENTITY], database_url)
    for spec in SERVICES:
        await truncate_schema(database_url, spec.schema)
    async with AsyncExitStack() as stack:
        built = Suite(database_url, redis, stack)
        await built.start()
        yield built
