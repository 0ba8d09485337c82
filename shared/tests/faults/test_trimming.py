"""Checklist A7: trimming never drops an entry that a group has pending or not yet read.

A stalled group holds part of 10k entries pending while another group consumes; the
trimmer runs with zero retention after every step. Plain MAXLEN is shown to lose pending
entries on a second stream, so the main test would notice if the trimmer did the same.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.relay import entry_fields
from aurora_shared.bus.trimmer import safe_trim_floor, trim_stream
from aurora_shared.config import BusSettings

from .bus_runner import EVENT_TYPE, GROUP, SCHEMA, STREAM
from .conftest import FaultEnv, effect_counts

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

N = 10_000
STALLED = "stalled"
LIVE = "live"
NEVER_MS = 10**9


# -- the pure floor ----------------------------------------------------------------------


def _group(name: Any, last: Any) -> dict[str, Any]:
    return {"name": name, "last-delivered-id": last, "pending": 0}


@pytest.mark.parametrize(
    ("groups", "oldest", "cutoff_ms", "expected"),
    [
        pytest.param([], {}, 500, "500-0", id="no-groups-retention-only"),
        pytest.param([_group("g", "900-0")], {"g": "100-7"}, 500, "100-7", id="oldest-pending"),
        pytest.param([_group("g", "300-3")], {"g": None}, 500, "300-4", id="all-acked"),
        pytest.param([_group("g", "900-0")], {"g": None}, 500, "500-0", id="retention-lower"),
        pytest.param([_group("g", "0-0")], {"g": None}, 500, "0-1", id="never-read-group"),
        pytest.param(
            [_group("a", "10-0"), _group("b", "20-0")],
            {"a": "10-0", "b": "9-5"},
            500,
            "9-5",
            id="numeric-not-lexical",
        ),
        pytest.param(
            [_group(b"a", b"70-0"), _group(b"b", b"40-2")],
            {"a": None, "b": None},
            500,
            "40-3",
            id="bytes-and-min-over-groups",
        ),
    ],
)
def test_safe_trim_floor(
    groups: list[dict[str, Any]], oldest: dict[str, str | None], cutoff_ms: int, expected: str
) -> None:
    assert safe_trim_floor(groups, oldest, cutoff_ms) == expected


# -- helpers -----------------------------------------------------------------------------


def _deleted(claim: Any) -> int:
    """How many pending entries XAUTOCLAIM found trimmed away.

    Redis 7 lists them separately; 6.2 (the embedded server) returns them as nil entries.
    """
    if len(claim) > 2:
        return len(claim[2])
    return sum(1 for entry_id, fields in claim[1] if entry_id is None or fields is None)


async def _floor_index(redis: Redis, stream: str, group: str, index: dict[str, int]) -> int:
    """Position of the oldest entry `group` still needs: its oldest pending or first unread."""
    info = {g["name"]: g for g in await redis.xinfo_groups(stream)}
    summary = await redis.xpending(stream, group)
    if summary["pending"]:
        return index[summary["min"]]
    last = info[group]["last-delivered-id"]
    return index[last] + 1 if last in index else 0


async def _first_index(redis: Redis, stream: str, index: dict[str, int]) -> int:
    head = await redis.xrange(stream, count=1)
    return index[head[0][0]] if head else len(index)


async def _add_events(redis: Redis, stream: str, n: int) -> list[str]:
    events = [
        new_event(EVENT_TYPE, producer="faulttest", user_id=None, payload={}) for _ in range(n)
    ]
    pipe = redis.pipeline(transaction=False)
    for e in events:
        pipe.xadd(stream, entry_fields(str(e.id), e.type, e.model_dump_json()))
    return [str(i) for i in await pipe.execute()]


async def _noop(session: AsyncSession, event: Envelope) -> None:
    return None


# -- under load --------------------------------------------------------------------------


async def test_trim_keeps_pending_and_unread_entries(
    env: FaultEnv, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A7: XAUTOCLAIM never reports trimmed entries; only the acknowledged prefix goes."""
    caplog.set_level(logging.ERROR, logger="aurora.bus.consumer")
    async with asyncio.timeout(30):
        await redis.xgroup_create(STREAM, STALLED, id="0", mkstream=True)
        ids = await _add_events(redis, STREAM, N)
        index = {entry_id: i for i, entry_id in enumerate(ids)}

        # The stalled group: 3000 delivered, the first 1000 acknowledged, 7000 unread.
        got = await redis.xreadgroup(STALLED, "s1", {STREAM: ">"}, count=3000)
        assert [e[0] for e in got[0][1]] == ids[:3000]
        await redis.xack(STREAM, STALLED, *ids[:1000])
        pending_from, unread_from = 1000, 3000

        live = StreamConsumer(
            redis=redis,
            sessionmaker=env.sessionmaker,
            inbox=env.tables.inbox,
            stream=STREAM,
            group=LIVE,
            consumer="l1",
            handlers={EVENT_TYPE: _noop},
            settings=BusSettings(
                consumer_batch_size=500,
                consumer_block_ms=50,
                claim_min_idle_ms=100,
                claim_interval_s=0.05,
            ),
            service="faulttest",
        )
        await live.ensure_group()
        stop = asyncio.Event()
        consuming = asyncio.create_task(live.run(stop))
        rounds = trimmed = 0
        try:
            while True:
                rounds += 1
                # The stalled group limps on: its 400 oldest pending are taken over and
                # acknowledged, 300 more are delivered and left pending.
                claim = await redis.xautoclaim(
                    STREAM, STALLED, "s2", min_idle_time=0, start_id="0-0", count=400
                )
                assert _deleted(claim) == 0
                claimed = [e[0] for e in claim[1]]
                assert claimed == ids[pending_from : pending_from + len(claimed)]
                if claimed:
                    await redis.xack(STREAM, STALLED, *claimed)
                pending_from += len(claimed)
                if unread_from < N:
                    got = await redis.xreadgroup(STALLED, "s1", {STREAM: ">"}, count=300)
                    delivered = [e[0] for e in got[0][1]]
                    assert delivered == ids[unread_from : unread_from + 300]
                    unread_from += len(delivered)

                live_before = await _floor_index(redis, STREAM, LIVE, index)
                trimmed += await trim_stream(redis, STREAM, 0)
                live_after = await _floor_index(redis, STREAM, LIVE, index)

                first = await _first_index(redis, STREAM, index)
                # MINID trimming leaves a contiguous suffix of what was added.
                assert await redis.xlen(STREAM) == N - first
                stalled_floor = min(pending_from, unread_from)
                assert first <= min(stalled_floor, live_after), "a needed entry was trimmed"
                assert first >= min(stalled_floor, live_before), "an acked prefix was kept"
                for group in (STALLED, LIVE):  # a scan of the whole PEL, claiming nothing
                    scan = await redis.xautoclaim(
                        STREAM, group, "checker", min_idle_time=NEVER_MS, count=N
                    )
                    assert _deleted(scan) == 0
                    assert scan[1] == []

                if pending_from >= N and live_before >= N:
                    break
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await consuming

        assert rounds > 10
        assert trimmed == N
        assert await redis.xlen(STREAM) == 0
        assert (await redis.xpending(STREAM, STALLED))["pending"] == 0
        assert (await redis.xpending(STREAM, LIVE))["pending"] == 0
    async with env.engine.connect() as conn:
        inbox = await conn.execute(
            env.tables.inbox.select().where(env.tables.inbox.c.consumer_group == LIVE)
        )
        assert len(inbox.all()) == N
    assert not [r for r in caplog.records if "trimmed" in r.getMessage()]


async def test_plain_maxlen_would_drop_pending_entries(redis: Redis) -> None:
    """The control: the same PEL under MAXLEN loses entries, under trim_stream none."""
    plain, safe = f"{STREAM}.maxlen", f"{STREAM}.minid"
    for stream in (plain, safe):
        await redis.xgroup_create(stream, "g", id="0", mkstream=True)
        ids = await _add_events(redis, stream, 100)
        await redis.xreadgroup("g", "c1", {stream: ">"}, count=50)
        await redis.xack(stream, "g", *ids[:10])  # pending: entries 10..49

    assert await redis.xtrim(plain, maxlen=20, approximate=False) == 80
    lost = await redis.xautoclaim(plain, "g", "c2", min_idle_time=0, count=100)
    assert _deleted(lost) == 40, "MAXLEN dropped every pending entry"

    assert await trim_stream(redis, safe, 0) == 10  # only the acknowledged prefix
    kept = await redis.xautoclaim(safe, "g", "c2", min_idle_time=0, count=100)
    assert _deleted(kept) == 0
    assert len(kept[1]) == 40
    assert all(fields for _, fields in kept[1])
    assert await redis.xlen(safe) == 90


async def test_trim_of_a_missing_stream_is_a_noop(redis: Redis) -> None:
    assert await trim_stream(redis, f"{STREAM}.absent", 0) == 0
    assert not await redis.exists(f"{STREAM}.absent")


async def _record(session: AsyncSession, event: Envelope) -> None:
    await session.execute(
        text(f"INSERT INTO {SCHEMA}.effects (event_id, note) VALUES (:e, 'trim')"), {"e": event.id}
    )


@pytest.fixture(params=["session", "private"])
def both_redis(request: pytest.FixtureRequest) -> Redis:
    """The session's Redis (7.x on a developer machine) and the embedded one (6.2)."""
    client: Redis = request.getfixturevalue(
        "redis" if request.param == "session" else "private_redis_client"
    )
    return client


async def test_reclaim_survives_pending_entries_deleted_behind_its_back(
    env: FaultEnv, both_redis: Redis
) -> None:
    """XDEL (or someone's MAXLEN) removed an entry a dead consumer held: reclaim goes on.

    Redis 7 reports it in XAUTOCLAIM's deleted list; 6.2 (the private, embedded server)
    claims it and answers a nil, which once crashed the consumer loop.
    """
    redis = both_redis
    consumer = StreamConsumer(
        redis=redis,
        sessionmaker=env.sessionmaker,
        inbox=env.tables.inbox,
        stream=STREAM,
        group=GROUP,
        consumer="rescuer",
        handlers={EVENT_TYPE: _record},
        settings=BusSettings(claim_min_idle_ms=10),
        service="faulttest",
    )
    await consumer.ensure_group()
    ids = await _add_events(redis, STREAM, 3)
    await redis.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=3)
    await redis.xdel(STREAM, ids[0])
    await asyncio.sleep(0.05)  # past claim_min_idle_ms

    assert await consumer.reclaim() == 2  # the survivors are taken over and applied
    assert sum((await effect_counts(env)).values()) == 2
    await consumer.process_own_pending()  # what a restart does: 6.2's leftover is dead-lettered
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
