"""The reliable path end to end inside one process: outbox -> relay -> stream -> consumer."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import Handler, StreamConsumer, dlq_stream
from aurora_shared.bus.dlq import list_dead_letters, replay_dead_letters
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.config import BusSettings

from .conftest import GROUP, SCHEMA, STREAM, BusEnv, record_effect


def consumer_for(
    env: BusEnv,
    redis: Redis,
    settings: BusSettings,
    handler: Handler = record_effect,
    name: str = "c1",
) -> StreamConsumer:
    return StreamConsumer(
        redis=redis,
        sessionmaker=env.sessionmaker,
        inbox=env.tables.inbox,
        stream=STREAM,
        group=GROUP,
        consumer=name,
        handlers={"thing.happened": handler},
        settings=settings,
        service="test",
    )


async def write_events(env: BusEnv, n: int, note: str = "") -> list[Envelope]:
    events = [
        new_event("thing.happened", producer="test", user_id=uuid.uuid4(), payload={"note": note})
        for _ in range(n)
    ]
    async with env.sessionmaker() as session, session.begin():
        await enqueue(session, env.tables.outbox, STREAM, events)
    return events


async def effect_counts(env: BusEnv) -> dict[uuid.UUID, int]:
    async with env.engine.connect() as conn:
        rows = await conn.execute(
            select(env.effects.c.event_id, func.count()).group_by(env.effects.c.event_id)
        )
        return {r[0]: r[1] for r in rows}


async def test_events_flow_exactly_once(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    events = await write_events(bus_env, 25)
    relay = OutboxRelay(bus_env.engine, redis, SCHEMA, service="test", batch_size=10)
    assert await relay.drain() == 25
    consumer = consumer_for(bus_env, redis, fast_bus)
    await consumer.ensure_group()
    while await consumer.read_new():
        pass
    counts = await effect_counts(bus_env)
    assert counts == {e.id: 1 for e in events}
    pending = await redis.xpending(STREAM, GROUP)
    assert pending["pending"] == 0
    async with bus_env.engine.connect() as conn:
        unpublished = await conn.scalar(
            text(f"SELECT count(*) FROM {SCHEMA}.outbox WHERE published_at IS NULL")
        )
    assert unpublished == 0


async def test_rollback_leaves_neither_state_nor_event(bus_env: BusEnv) -> None:
    """Checklist A1: a failure between the state write and the outbox write rolls back both."""

    class Boom(Exception):
        pass

    event = new_event("thing.happened", producer="test", user_id=None, payload={})
    with pytest.raises(Boom):
        async with bus_env.sessionmaker() as session, session.begin():
            await record_effect(session, event)
            raise Boom
            await enqueue(session, bus_env.tables.outbox, STREAM, event)  # never reached
    async with bus_env.engine.connect() as conn:
        orphans = await conn.scalar(
            text(
                f"SELECT count(*) FROM {SCHEMA}.effects e "
                f"LEFT JOIN {SCHEMA}.outbox o ON o.event_id = e.event_id WHERE o.id IS NULL"
            )
        )
        outbox = await conn.scalar(text(f"SELECT count(*) FROM {SCHEMA}.outbox"))
    assert orphans == 0
    assert outbox == 0


async def test_relay_crash_after_xadd_is_applied_once(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    """Checklist A2: XADD done, crash before marking -> published twice, applied once."""
    events = await write_events(bus_env, 5)

    class CrashingRelay(OutboxRelay):
        async def before_mark_published(self) -> None:
            raise RuntimeError("relay died after XADD")

    with pytest.raises(RuntimeError):
        await CrashingRelay(bus_env.engine, redis, SCHEMA, service="test").publish_batch()
    assert await redis.xlen(STREAM) == 5
    assert await OutboxRelay(bus_env.engine, redis, SCHEMA, service="test").drain() == 5
    assert await redis.xlen(STREAM) == 10  # every event is on the stream twice
    consumer = consumer_for(bus_env, redis, fast_bus)
    await consumer.ensure_group()
    while await consumer.read_new():
        pass
    assert await effect_counts(bus_env) == {e.id: 1 for e in events}
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_poison_message_goes_to_dlq_and_later_events_flow(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    """Checklist A6: after N deliveries the entry is dead-lettered with its error."""
    attempts: dict[uuid.UUID, int] = {}

    async def handler(session: AsyncSession, event: Envelope) -> None:
        if event.payload.get("note") == "poison":
            attempts[event.id] = attempts.get(event.id, 0) + 1
            raise ValueError("cannot digest this")
        await record_effect(session, event)

    poison = await write_events(bus_env, 1, note="poison")
    good = await write_events(bus_env, 3)
    relay = OutboxRelay(bus_env.engine, redis, SCHEMA, service="test")
    await relay.drain()
    consumer = consumer_for(bus_env, redis, fast_bus, handler)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(15):
            while not await redis.xlen(dlq_stream(STREAM)):
                await asyncio.sleep(0.05)
        later = await write_events(bus_env, 2)
        await relay.drain()
        async with asyncio.timeout(10):
            while len(await effect_counts(bus_env)) < 5:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    # N deliveries; the first one also tried it inside the failing batch.
    assert fast_bus.max_deliveries <= attempts[poison[0].id] <= fast_bus.max_deliveries + 1
    assert await effect_counts(bus_env) == {e.id: 1 for e in good + later}
    letters = await list_dead_letters(redis, STREAM)
    assert len(letters) == 1
    assert letters[0].event_id == str(poison[0].id)
    assert "ValueError: cannot digest this" in letters[0].error
    assert letters[0].deliveries == fast_bus.max_deliveries + 1
    assert letters[0].original_id
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0

    # The operator fixes the bug and replays: the event is applied once, the DLQ empties.
    fixed = consumer_for(bus_env, redis, fast_bus)
    replayed = await replay_dead_letters(redis, STREAM)
    assert len(replayed) == 1
    while await fixed.read_new():
        pass
    assert (await effect_counts(bus_env))[poison[0].id] == 1
    assert await list_dead_letters(redis, STREAM) == []


async def test_malformed_entry_is_dead_lettered_at_once(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    consumer = consumer_for(bus_env, redis, fast_bus)
    await consumer.ensure_group()
    await redis.xadd(STREAM, {"event": "{not json"})
    good = await write_events(bus_env, 1)
    await OutboxRelay(bus_env.engine, redis, SCHEMA, service="test").drain()
    while await consumer.read_new():
        pass
    letters = await list_dead_letters(redis, STREAM)
    assert len(letters) == 1
    assert "malformed envelope" in letters[0].error
    assert await effect_counts(bus_env) == {good[0].id: 1}


async def test_group_created_after_producer_sees_early_events(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    """Checklist A11: the group starts at id 0, not $."""
    events = await write_events(bus_env, 4)
    await OutboxRelay(bus_env.engine, redis, SCHEMA, service="test").drain()
    consumer = consumer_for(bus_env, redis, fast_bus)
    await consumer.ensure_group()
    await consumer.ensure_group()  # BUSYGROUP is tolerated
    while await consumer.read_new():
        pass
    assert await effect_counts(bus_env) == {e.id: 1 for e in events}


async def test_unknown_event_types_are_acknowledged_without_effect(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    consumer = consumer_for(bus_env, redis, fast_bus)
    await consumer.ensure_group()
    other = new_event("other.thing", producer="test", user_id=None, payload={})
    async with bus_env.sessionmaker() as session, session.begin():
        await enqueue(session, bus_env.tables.outbox, STREAM, other)
    await OutboxRelay(bus_env.engine, redis, SCHEMA, service="test").drain()
    while await consumer.read_new():
        pass
    assert await effect_counts(bus_env) == {}
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
