"""Checklist A10: PostgreSQL restarts under a consumer that is in the middle of a backlog.

"No XACK before commit" is checked from the outside: acknowledged entries are sampled from
Redis all along, outage included, and each sample must already be committed when PostgreSQL
is asked right after (or, during the outage, as soon as it answers again).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from aurora_shared.bus.consumer import dlq_stream
from aurora_shared.embedded import EmbeddedPostgres

from .bus_runner import GROUP, STREAM
from .conftest import (
    FaultEnv,
    Processes,
    bus_state,
    effect_counts,
    eventually,
    fault_env,
    inbox_ids,
    once_each,
    pel_size,
    relay_all,
    write_events,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

EVENTS = 120
HANDLER_DELAY_S = 0.025  # 3 s of work in batches of 5, so the restart lands mid-backlog
OUTAGE_S = 1.5


@pytest.fixture
async def pg_env(private_postgres: EmbeddedPostgres) -> AsyncIterator[FaultEnv]:
    async with fault_env(private_postgres.url) as env:
        yield env


async def _acknowledged(redis: Redis, entry_events: dict[str, uuid.UUID]) -> set[uuid.UUID]:
    """Events whose entries the group has read and no longer holds pending."""
    groups = {g["name"]: g for g in await redis.xinfo_groups(STREAM)}
    if GROUP not in groups:  # the consumer has not started yet
        return set()
    last = groups[GROUP]["last-delivered-id"]
    pending = await redis.xpending_range(STREAM, GROUP, min="-", max="+", count=EVENTS * 2)
    held = {p["message_id"] for p in pending}
    delivered = await redis.xrange(STREAM, max=last) if last != "0-0" else []
    return {entry_events[entry_id] for entry_id, _ in delivered if entry_id not in held}


@dataclass
class AckAudit:
    """Acked in Redis at t1 implies committed in PostgreSQL at any t2 > t1.

    A commit precedes its XACK, so what Redis showed acknowledged must be in the inbox when
    PostgreSQL is asked a moment later. Samples taken while PostgreSQL is down are verified
    at its first answer after the restart, which usually comes before the consumer's backoff
    lets it commit again (a race that can only hide a violation, never invent one).
    """

    env: FaultEnv
    redis: Redis
    entry_events: dict[str, uuid.UUID]
    checked: int = 0
    outage_samples: int = 0
    unverified: list[set[uuid.UUID]] = field(default_factory=list)
    acked_not_committed: set[uuid.UUID] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sample()
            await asyncio.sleep(0.03)

    async def sample(self) -> None:
        self.unverified.append(await _acknowledged(self.redis, self.entry_events))
        try:
            committed = await inbox_ids(self.env)
        except Exception:  # PostgreSQL is down: verify after the restart
            self.outage_samples += 1
            return
        for acked in self.unverified:
            self.acked_not_committed |= acked - committed
        self.checked += len(self.unverified)
        self.unverified.clear()


async def test_postgres_restart_during_consumption(
    pg_env: FaultEnv,
    private_postgres: EmbeddedPostgres,
    redis: Redis,
    redis_url: str,
    procs: Processes,
) -> None:
    """A10: no XACK before commit; the pool reconnects; exactly-once holds."""
    env = pg_env
    async with asyncio.timeout(30):
        events = await write_events(env, EVENTS)
        assert await relay_all(env, redis) == EVENTS
        entry_events = {
            entry_id: uuid.UUID(fields["event_id"])
            for entry_id, fields in await redis.xrange(STREAM)
        }
        consumer = procs.consumer(
            env, redis_url, "c1", batch_size=5, delay_s=HANDLER_DELAY_S, claim_min_idle_ms=600_000
        )
        audit = AckAudit(env, redis, entry_events)
        stop_auditing = asyncio.Event()
        auditor = asyncio.create_task(audit.run(stop_auditing))
        try:
            await eventually(
                lambda: _applied_at_least(env, 30),
                15,
                "consumption under way",
                state=bus_state(env, redis),
            )
            await asyncio.to_thread(private_postgres.stop)
            stopped = time.monotonic()
            acked_at_stop = len(await _acknowledged(redis, entry_events))
            await asyncio.sleep(OUTAGE_S)  # the outage itself: the consumer must ride it out
            await asyncio.to_thread(private_postgres.start)
            restarted = time.monotonic()
            await eventually(
                lambda: _done(env, redis),
                20,
                "backlog drained after restart",
                state=bus_state(env, redis),
            )
        finally:
            stop_auditing.set()
            await auditor
        await audit.sample()

        assert acked_at_stop < EVENTS, "the restart must land during consumption"
        assert consumer.poll() is None, "the consumer rides out the outage in-process"
        assert audit.outage_samples >= 5
        assert audit.checked > 50
        assert not audit.unverified
        assert audit.acked_not_committed == set(), "an entry was acknowledged before its commit"
        assert await effect_counts(env) == once_each(events)
        assert await inbox_ids(env) == {e.id for e in events}
        assert await redis.xlen(dlq_stream(STREAM)) == 0, "an outage is not a poison event"
        print(
            f"{audit.checked} ack samples ({audit.outage_samples} in the outage); "
            f"{acked_at_stop} acked at the stop; drained "
            f"{time.monotonic() - restarted:.2f}s after the restart "
            f"({restarted - stopped:.2f}s outage)"
        )


async def _applied_at_least(env: FaultEnv, n: int) -> bool:
    return len(await effect_counts(env)) >= n


async def _done(env: FaultEnv, redis: Redis) -> bool:
    try:
        return len(await effect_counts(env)) >= EVENTS and await pel_size(redis) == 0
    except Exception:  # the test's own pool may meet the restart too
        return False
