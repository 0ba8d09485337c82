"""Erasing one user's events: outbox rows, recorded stream entries, copies in DLQs and replays."""

from __future__ import annotations

import asyncio
import json
import uuid

from redis.asyncio import Redis
from sqlalchemy import func, select

from aurora_shared.bus.consumer import dlq_stream
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.erasure import belongs_to, erase_user_events, sweep_stream
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import OutboxRelay, entry_fields

from .conftest import SCHEMA, STREAM, BusEnv

OTHER_STREAM = "bustest.other"


def event_of(user_id: uuid.UUID | None, note: str = "") -> Envelope:
    return new_event("thing.happened", producer="test", user_id=user_id, payload={"note": note})


async def write(env: BusEnv, stream: str, events: list[Envelope]) -> None:
    async with env.sessionmaker() as session, session.begin():
        await enqueue(session, env.tables.outbox, stream, events)


async def users_in(redis: Redis, stream: str) -> list[str | None]:
    return [json.loads(f["event"]).get("user_id") for _, f in await redis.xrange(stream)]


async def outbox_users(env: BusEnv) -> dict[str | None, int]:
    outbox = env.tables.outbox
    async with env.engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.user_id, func.count()).group_by(outbox.c.user_id))
        return {(str(u) if u else None): n for u, n in rows}


async def test_erases_outbox_rows_recorded_entries_and_copies(
    bus_env: BusEnv, redis: Redis
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await write(bus_env, STREAM, [event_of(alice, "a1"), event_of(bob, "b1"), event_of(None)])
    await write(bus_env, OTHER_STREAM, [event_of(alice, "a-other")])
    relay = OutboxRelay(bus_env.engine, redis, SCHEMA, service="test")
    assert await relay.drain() == 4
    # Rows not yet relayed are erased before they ever reach Redis.
    await write(bus_env, STREAM, [event_of(alice, "a2-unpublished"), event_of(bob, "b2")])
    # Copies the outbox never recorded: a dead letter, and an entry a replay wrote anew.
    (_first_id, first_fields), *_ = await redis.xrange(STREAM, count=1)
    await redis.xadd(dlq_stream(STREAM), {**first_fields, "error": "boom"})
    replayed = event_of(alice, "replayed")
    await redis.xadd(
        STREAM, entry_fields(str(replayed.id), replayed.type, replayed.model_dump_json())
    )

    async with bus_env.sessionmaker() as session, session.begin():
        report = await erase_user_events(session, redis, bus_env.tables.outbox, [STREAM], alice)

    assert report.outbox_rows == 3  # a1, a-other (published) and a2 (never published)
    assert report.stream_entries == 4  # a1, a-other via the outbox; the DLQ copy, the replay
    assert not report.truncated
    assert await outbox_users(bus_env) == {str(bob): 2, None: 1}
    assert await users_in(redis, STREAM) == [str(bob), None]
    assert await users_in(redis, dlq_stream(STREAM)) == []
    # The other stream was not swept, yet alice's entry there went with its outbox row.
    assert await users_in(redis, OTHER_STREAM) == []
    # Bob's unpublished event still goes out.
    assert await relay.drain() == 1
    assert await users_in(redis, STREAM) == [str(bob), None, str(bob)]


async def test_erasure_rolled_back_keeps_rows_and_can_run_again(
    bus_env: BusEnv, redis: Redis
) -> None:
    alice = uuid.uuid4()
    await write(bus_env, STREAM, [event_of(alice)])
    async with bus_env.sessionmaker() as session, session.begin():
        await erase_user_events(session, redis, bus_env.tables.outbox, [STREAM], alice)
        await session.rollback()
    assert await outbox_users(bus_env) == {str(alice): 1}
    async with bus_env.sessionmaker() as session, session.begin():
        report = await erase_user_events(session, redis, bus_env.tables.outbox, [STREAM], alice)
    assert report.outbox_rows == 1
    assert await outbox_users(bus_env) == {}


async def test_a_row_being_published_is_still_erased_from_the_stream(
    bus_env: BusEnv, redis: Redis
) -> None:
    """The relay has XADDed and holds the row lock: the erasure waits and gets the entry id."""
    alice = uuid.uuid4()
    await write(bus_env, STREAM, [event_of(alice)])
    added = asyncio.Event()
    release = asyncio.Event()

    class SlowRelay(OutboxRelay):
        async def before_mark_published(self) -> None:
            added.set()
            await release.wait()

    relay = SlowRelay(bus_env.engine, redis, SCHEMA, service="test")
    publishing = asyncio.create_task(relay.publish_batch())
    await asyncio.wait_for(added.wait(), 5)
    assert await users_in(redis, STREAM) == [str(alice)]

    async def erase() -> int:
        async with bus_env.sessionmaker() as session, session.begin():
            # No sweep: only the outbox path can find the entry here.
            report = await erase_user_events(session, redis, bus_env.tables.outbox, [], alice)
            return report.stream_entries

    erasing = asyncio.create_task(erase())
    await asyncio.sleep(0.2)
    assert not erasing.done()  # blocked on the relay's row lock
    release.set()
    assert await publishing == 1
    assert await asyncio.wait_for(erasing, 5) == 1
    assert await redis.xlen(STREAM) == 0
    assert await outbox_users(bus_env) == {}


async def test_sweep_is_bounded_and_reports_truncation(redis: Redis) -> None:
    alice = uuid.uuid4()
    for i in range(25):
        event = event_of(alice if i % 2 == 0 else uuid.uuid4())
        await redis.xadd(STREAM, entry_fields(str(event.id), event.type, event.model_dump_json()))
    removed, truncated = await sweep_stream(redis, STREAM, alice, scan_limit=10, batch=4)
    assert truncated
    # Only the first ten entries were looked at; five of them were alice's.
    assert removed == 5
    removed, truncated = await sweep_stream(redis, STREAM, alice, scan_limit=1000, batch=4)
    assert (removed, truncated) == (8, False)
    assert str(alice) not in await users_in(redis, STREAM)
    assert await redis.xlen(STREAM) == 12


async def test_sweep_of_a_missing_stream_is_a_no_op(redis: Redis) -> None:
    assert await sweep_stream(redis, "no.such.stream", uuid.uuid4(), scan_limit=10) == (0, False)


def test_belongs_to_reads_the_envelope_not_the_text() -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    mentions_alice = new_event(
        "grant.changed", producer="t", user_id=bob, payload={"coach_id": str(alice)}
    )
    fields = entry_fields(
        str(mentions_alice.id), mentions_alice.type, mentions_alice.model_dump_json()
    )
    assert not belongs_to(fields, str(alice))
    assert belongs_to(fields, str(bob))
    assert not belongs_to({"event": event_of(None).model_dump_json()}, str(alice))
    assert not belongs_to({}, str(alice))
    assert not belongs_to(None, str(alice))
    assert not belongs_to({"type": "x"}, str(alice))
    # Unparseable but naming the user: erased rather than kept.
    assert belongs_to({"event": f"{{broken {alice}"}, str(alice))
    assert belongs_to({b"event": event_of(alice).model_dump_json().encode()}, str(alice))
