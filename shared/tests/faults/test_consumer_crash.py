"""Checklist A3-A5: consumer processes SIGKILLed at the two points that matter.

The victim announces in Redis that it reached the kill point (committed-not-acked, or
written-not-committed) and freezes there, so each kill lands exactly where intended.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from .bus_runner import GROUP, STREAM, own_pending_key, ready_key, reclaimed_key
from .conftest import (
    FaultEnv,
    Processes,
    bus_state,
    consumer_is_up,
    effect_counts,
    effect_order,
    eventually,
    inbox_ids,
    once_each,
    pel_size,
    relay_all,
    write_events,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

MIN_IDLE_MS = 1000
# Slack over min_idle for one claim interval (0.1 s), the batch and the XACK.
EPSILON_S = 2.0
NEVER_MS = 600_000  # a claim_min_idle_ms that disables XAUTOCLAIM for the test's duration


async def _has_key(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))


async def _pending_of(redis: Redis, consumer: str) -> int:
    summary = await redis.xpending(STREAM, GROUP)
    return sum(int(c["pending"]) for c in summary["consumers"] if c["name"] == consumer)


async def _int(redis: Redis, key: str) -> int:
    return int(await redis.get(key) or 0)


async def _counted(redis: Redis, key: str, expected: int) -> None:
    """The runner bumps its counters after the batch is acknowledged: allow it a moment."""

    async def reached() -> bool:
        return await _int(redis, key) >= expected

    await eventually(reached, 2, f"{key} reaches {expected}")
    assert await _int(redis, key) == expected


async def test_sigkill_after_commit_before_xack(
    env: FaultEnv, redis: Redis, redis_url: str, procs: Processes
) -> None:
    """A3: redelivered via XAUTOCLAIM, the inbox skips it, PEL=0 within min_idle + eps."""
    async with asyncio.timeout(30):
        events = await write_events(env, 5)
        assert await relay_all(env, redis) == 5
        victim = procs.consumer(env, redis_url, "c1", fault="after-commit")
        await eventually(
            lambda: _has_key(redis, ready_key("c1")),
            15,
            "c1 reaches XACK",
            state=bus_state(env, redis),
        )

        # Committed, not acknowledged: the effects are there and c1 still owns every entry.
        assert await effect_counts(env) == once_each(events)
        assert await _pending_of(redis, "c1") == 5

        rescuer = procs.consumer(env, redis_url, "c2", claim_min_idle_ms=MIN_IDLE_MS)
        await eventually(
            lambda: consumer_is_up(redis, "c2"), 15, "c2 starts", state=bus_state(env, redis)
        )
        procs.kill(victim)
        killed_at = time.monotonic()

        took = await eventually(
            lambda: _pel_empty(redis),
            MIN_IDLE_MS / 1000 + EPSILON_S,
            "PEL drains",
            state=bus_state(env, redis),
        )
        await _counted(redis, reclaimed_key("c2"), 5)  # taken over, not read anew
        assert await effect_counts(env) == once_each(events)  # the inbox skipped them all
        assert await inbox_ids(env) == {e.id for e in events}
        assert rescuer.poll() is None
        print(f"PEL empty {time.monotonic() - killed_at:.2f}s after the kill ({took:.2f}s poll)")


async def test_sigkill_before_commit(
    env: FaultEnv, redis: Redis, redis_url: str, procs: Processes
) -> None:
    """A4: the open transaction dies with the process; after the reclaim, applied once."""
    async with asyncio.timeout(30):
        events = await write_events(env, 5)
        assert await relay_all(env, redis) == 5
        victim = procs.consumer(env, redis_url, "c1", fault="before-commit")
        await eventually(
            lambda: _has_key(redis, ready_key("c1")),
            15,
            "c1 writes an effect",
            state=bus_state(env, redis),
        )

        # Written inside the transaction, never committed: nothing is visible.
        assert await effect_counts(env) == {}
        assert await inbox_ids(env) == set()
        assert await _pending_of(redis, "c1") == 5

        rescuer = procs.consumer(env, redis_url, "c2", claim_min_idle_ms=MIN_IDLE_MS)
        await eventually(
            lambda: consumer_is_up(redis, "c2"), 15, "c2 starts", state=bus_state(env, redis)
        )
        procs.kill(victim)

        await eventually(
            lambda: _pel_empty(redis),
            MIN_IDLE_MS / 1000 + EPSILON_S,
            "PEL drains",
            state=bus_state(env, redis),
        )
        await _counted(redis, reclaimed_key("c2"), 5)
        assert await effect_counts(env) == once_each(events)
        assert await inbox_ids(env) == {e.id for e in events}
        assert rescuer.poll() is None


async def test_restart_reads_own_pel_before_new_entries(
    env: FaultEnv, redis: Redis, redis_url: str, procs: Processes
) -> None:
    """A5: same consumer name, no reclaim: its own PEL is processed first, nothing stranded."""
    async with asyncio.timeout(30):
        first = await write_events(env, 5)
        assert await relay_all(env, redis) == 5
        victim = procs.consumer(
            env, redis_url, "c1", fault="before-commit", claim_min_idle_ms=NEVER_MS
        )
        await eventually(
            lambda: _has_key(redis, ready_key("c1")),
            15,
            "c1 writes an effect",
            state=bus_state(env, redis),
        )
        procs.kill(victim)
        assert await _pending_of(redis, "c1") == 5

        later = await write_events(env, 5)  # new entries behind the stranded ones
        assert await relay_all(env, redis) == 5
        restarted = procs.consumer(env, redis_url, "c1", claim_min_idle_ms=NEVER_MS)

        # Far sooner than any reclaim could act (min_idle is ten minutes).
        await eventually(
            lambda: _pel_empty(redis),
            15,
            "PEL drains without XAUTOCLAIM",
            state=bus_state(env, redis),
        )
        await eventually(
            lambda: _all_applied(env, len(first) + len(later)),
            5,
            "all effects committed",
            state=bus_state(env, redis),
        )
        await _counted(redis, own_pending_key("c1"), 5)
        assert await _int(redis, reclaimed_key("c1")) == 0
        assert await effect_counts(env) == once_each(first + later)
        order = await effect_order(env)
        assert set(order[:5]) == {e.id for e in first}, "own PEL must come before new entries"
        assert set(order[5:]) == {e.id for e in later}
        assert restarted.poll() is None


async def _pel_empty(redis: Redis) -> bool:
    return await pel_size(redis) == 0


async def _all_applied(env: FaultEnv, n: int) -> bool:
    return len(await effect_counts(env)) >= n
