"""Batch handlers: a read batch's events of their types in one call, one transaction.

The culprit isolation of a failing batch must still work: the handler is then
called with one event at a time, and only the poison event is dead-lettered.
"""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import StreamConsumer, batch_request_id, dlq_stream
from aurora_shared.bus.dlq import list_dead_letters
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.config import BusSettings
from aurora_shared.logging import request_id_var

from .conftest import GROUP, SCHEMA, STREAM, BusEnv, record_effect
from .test_bus_flow import effect_counts

BATCHED, SINGLE = "thing.batched", "thing.single"


class Recorder:
    """A batch handler that writes one effect per event and remembers each call's ids."""

    def __init__(self, env: BusEnv) -> None:
        self.env = env
        self.calls: list[list[uuid.UUID]] = []
        self.request_ids: list[str | None] = []

    async def __call__(self, session: AsyncSession, events: list[Envelope]) -> None:
        self.calls.append([e.id for e in events])
        self.request_ids.append(request_id_var.get())
        if any(e.payload.get("note") == "poison" for e in events):
            raise ValueError("cannot digest this")
        await session.execute(
            insert(self.env.effects), [{"event_id": e.id, "note": "batched"} for e in events]
        )


def consumer_for(
    env: BusEnv, redis: Redis, settings: BusSettings, batch: Recorder
) -> StreamConsumer:
    return StreamConsumer(
        redis=redis,
        sessionmaker=env.sessionmaker,
        inbox=env.tables.inbox,
        stream=STREAM,
        group=GROUP,
        consumer="c1",
        handlers={SINGLE: record_effect, BATCHED: record_effect},
        batch_handlers={BATCHED: batch},
        settings=settings,
        service="test",
    )


async def publish(env: BusEnv, redis: Redis, events: list[Envelope]) -> None:
    async with env.sessionmaker() as session, session.begin():
        await enqueue(session, env.tables.outbox, STREAM, events)
    await OutboxRelay(env.engine, redis, SCHEMA, service="test").drain()


def event(event_type: str, note: str = "") -> Envelope:
    return new_event(event_type, producer="test", user_id=uuid.uuid4(), payload={"note": note})


async def test_a_batch_reaches_the_batch_handler_in_one_call_in_stream_order(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    batched = [event(BATCHED) for _ in range(5)]
    single = [event(SINGLE) for _ in range(3)]
    mixed = [batched[0], single[0], batched[1], batched[2], single[1], batched[3], single[2]]
    mixed.append(batched[4])
    await publish(bus_env, redis, mixed)
    recorder = Recorder(bus_env)
    consumer = consumer_for(bus_env, redis, fast_bus, recorder)
    await consumer.ensure_group()
    assert await consumer.read_new() == len(mixed)
    assert recorder.calls == [[e.id for e in batched]]
    assert await effect_counts(bus_env) == {e.id: 1 for e in mixed}
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_a_redelivered_batch_hands_over_only_fresh_events(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    """The inbox filters first: the handler never sees an event it already applied."""
    first = [event(BATCHED) for _ in range(3)]
    await publish(bus_env, redis, first)
    recorder = Recorder(bus_env)
    consumer = consumer_for(bus_env, redis, fast_bus, recorder)
    await consumer.ensure_group()
    await consumer.read_new()
    later = [event(BATCHED) for _ in range(2)]
    await publish(bus_env, redis, later)
    entries = await redis.xrange(STREAM)
    await consumer.process(entries, redelivered=False)  # the first three come again
    assert recorder.calls == [[e.id for e in first], [e.id for e in later]]
    assert await effect_counts(bus_env) == {e.id: 1 for e in first + later}


async def test_a_poison_event_is_isolated_and_the_rest_of_its_batch_commits(
    bus_env: BusEnv, redis: Redis, fast_bus: BusSettings
) -> None:
    good = [event(BATCHED) for _ in range(4)]
    poison = event(BATCHED, note="poison")
    await publish(bus_env, redis, [good[0], good[1], poison, good[2], good[3]])
    recorder = Recorder(bus_env)
    consumer = consumer_for(bus_env, redis, fast_bus, recorder)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(15):
            while not await redis.xlen(dlq_stream(STREAM)):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert recorder.calls[0] == [good[0].id, good[1].id, poison.id, good[2].id, good[3].id]
    # Then one event per call: the good ones commit, the poison one fails alone.
    assert [good[0].id] in recorder.calls and [good[3].id] in recorder.calls
    assert all(len(call) == 1 for call in recorder.calls[1:])
    assert await effect_counts(bus_env) == {e.id: 1 for e in good}
    letters = await list_dead_letters(redis, STREAM)
    assert [letter.event_id for letter in letters] == [str(poison.id)]
    assert "ValueError: cannot digest this" in letters[0].error


def test_a_batch_carries_the_request_ids_of_its_events() -> None:
    """A batch handler's log lines name the requests behind the batch (tests/e2e follows one)."""
    one, two = event(BATCHED), event(BATCHED)
    assert batch_request_id([one, two]) is None
    tagged = [e.model_copy(update={"request_id": rid}) for e, rid in ((one, "a"), (two, "a"))]
    assert batch_request_id(tagged) == "a"
    many = [one.model_copy(update={"request_id": f"r{i}"}) for i in range(25)]
    assert batch_request_id([*many, many[0]]) == ",".join(f"r{i}" for i in range(20)) + ",+5 more"
