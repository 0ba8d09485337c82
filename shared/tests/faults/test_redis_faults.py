"""Checklist A8-A9: Redis loses its data, or hangs; PostgreSQL stays the source of truth.

Restarts and pauses hit a private Redis without persistence; the session's Redis is only
flushed (one database of it), never signalled.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from aurora_shared.bus.consumer import dlq_stream
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.reconciler import OutboxReconciler
from aurora_shared.embedded import EmbeddedRedis

from .bus_runner import GROUP, SCHEMA, STREAM
from .conftest import (
    FaultEnv,
    Processes,
    bus_state,
    effect_counts,
    eventually,
    inbox_ids,
    once_each,
    outbox_ids,
    pel_size,
    relay_all,
    unpublished,
    write_events,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

PAUSE_S = 4.0
DRAIN_BOUND_S = 15.0


async def _applied(env: FaultEnv, events: list[Envelope]) -> bool:
    counts = await effect_counts(env)
    return all(counts.get(e.id, 0) >= 1 for e in events)


async def _group_exists(redis: Redis) -> bool:
    try:
        return any(g["name"] == GROUP for g in await redis.xinfo_groups(STREAM))
    except Exception:  # no such key yet
        return False


async def _answers(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except RedisConnectionError:
        return False


async def _drained(env: FaultEnv, redis: Redis, events: list[Envelope]) -> bool:
    return (
        await unpublished(env) == 0
        and await _group_exists(redis)
        and await pel_size(redis) == 0
        and await _applied(env, events)
    )


async def test_redis_restart_without_persistence(
    env: FaultEnv,
    private_redis: EmbeddedRedis,
    private_redis_client: Redis,
    procs: Processes,
) -> None:
    """A8: groups are recreated, the reconciler re-relays, outbox ids end up in the inbox."""
    redis, url = private_redis_client, private_redis.url
    reconciler = OutboxReconciler(env.engine, redis, SCHEMA, service="faulttest", window_s=3600)
    async with asyncio.timeout(30):
        assert await reconciler.reconcile_once() == 0  # remembers this Redis's epoch
        first = await write_events(env, 10)
        assert await relay_all(env, redis) == 10
        consumer = procs.consumer(env, url, "c1")
        await eventually(
            lambda: _drained(env, redis, first),
            15,
            "first batch consumed",
            state=bus_state(env, redis),
        )

        consumer.send_signal(signal.SIGSTOP)  # keeps the next events unconsumed
        second = await write_events(env, 10)
        assert await relay_all(env, redis) == 10
        assert await redis.xlen(STREAM) == 20
        private_redis.restart()  # no AOF, no RDB: streams, groups and PELs are gone
        await eventually(lambda: _answers(redis), 5, "redis answers again")
        assert not await redis.exists(STREAM)
        consumer.send_signal(signal.SIGCONT)

        await eventually(
            lambda: _group_exists(redis),
            10,
            "the consumer recreates its group",
            state=bus_state(env, redis),
        )
        assert await reconciler.reconcile_once() == 20  # every published row, once more
        assert await reconciler.reconcile_once() == 0  # the new epoch is now remembered
        assert await relay_all(env, redis) == 20
        await eventually(
            lambda: _drained(env, redis, first + second),
            10,
            "all consumed",
            state=bus_state(env, redis),
        )

        assert await outbox_ids(env) <= await inbox_ids(env)
        assert await effect_counts(env) == once_each(first + second)
        assert await redis.xlen(dlq_stream(STREAM)) == 0
        assert consumer.poll() is None


async def test_redis_data_lost_under_a_connected_consumer(
    env: FaultEnv, redis: Redis, redis_url: str, procs: Processes
) -> None:
    """A8, without a disconnect: the stream vanishes while XREADGROUP is blocked on it.

    Redis 7 answers the blocked read with an UNBLOCKED error, 6.2 with nothing and then
    NOGROUP; either way the consumer must recreate its group and go on.
    """
    async with asyncio.timeout(30):
        first = await write_events(env, 5)
        assert await relay_all(env, redis) == 5
        consumer = procs.consumer(env, redis_url, "c1", block_ms=1000)
        await eventually(
            lambda: _drained(env, redis, first),
            15,
            "first batch consumed",
            state=bus_state(env, redis),
        )
        await eventually(
            lambda: _blocked_reader(redis),
            5,
            "consumer blocks in XREADGROUP",
            state=bus_state(env, redis),
        )

        await redis.flushdb()  # as an operator's FLUSHDB or a failover to an empty replica
        second = await write_events(env, 5)
        assert await relay_all(env, redis) == 5
        await eventually(
            lambda: _drained(env, redis, first + second),
            10,
            "consumed after loss",
            state=bus_state(env, redis),
        )
        assert await effect_counts(env) == once_each(first + second)
        assert consumer.poll() is None


async def _blocked_reader(redis: Redis) -> bool:
    clients = await redis.client_list()
    return any(c.get("cmd") == "xreadgroup" and "b" in c.get("flags", "") for c in clients)


async def test_redis_hang_keeps_producers_fast_and_lag_drains(
    env: FaultEnv,
    private_redis: EmbeddedRedis,
    private_redis_client: Redis,
    procs: Processes,
) -> None:
    """A9: while Redis is SIGSTOPped, writes (PostgreSQL only) stay fast; then lag drains."""
    redis, url = private_redis_client, private_redis.url
    async with asyncio.timeout(30):
        relay = procs.relay(env, url)
        consumer = procs.consumer(env, url, "c1")
        warm = await write_events(env, 5)
        await eventually(
            lambda: _drained(env, redis, warm),
            15,
            "relay and consumer work",
            state=bus_state(env, redis),
        )

        written: list[Envelope] = []
        latencies: list[float] = []
        private_redis.pause()
        try:
            until = time.monotonic() + PAUSE_S
            while time.monotonic() < until:
                started = time.monotonic()
                written += await write_events(env, 5)
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.05)
            # Nothing written during the hang can have been marked published.
            assert await unpublished(env) == len(written)
        finally:
            private_redis.resume()
        resumed = time.monotonic()

        took = await eventually(
            lambda: _drained(env, redis, warm + written),
            DRAIN_BOUND_S,
            "lag drains to 0",
            state=bus_state(env, redis),
        )
        assert len(latencies) >= 20
        assert max(latencies) < 0.5, f"outbox writes slowed down: {max(latencies):.3f}s"
        # XADDs buffered during the hang may land twice; the inbox absorbs them.
        assert await effect_counts(env) == once_each(warm + written)
        assert await inbox_ids(env) == {e.id for e in warm + written}
        assert relay.poll() is None
        assert consumer.poll() is None
        print(
            f"{len(written)} events during a {PAUSE_S}s hang, writes max "
            f"{max(latencies) * 1000:.0f} ms; drained {took:.2f}s after resume "
            f"({time.monotonic() - resumed:.2f}s); stream holds {await redis.xlen(STREAM)}"
        )
