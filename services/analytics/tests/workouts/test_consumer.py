"""dedup's timeline events into analytics' workouts: newest event wins, in any order."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_analytics.consumers import subscriptions
from aurora_analytics.db import BUS, SCHEMA
from aurora_analytics.workouts.service import ContractViolationError
from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.envelope import Envelope
from aurora_shared.config import BusSettings
from aurora_shared.db import make_sessionmaker
from aurora_shared.testing.service import truncate_schema

from .factory import T0, apply, resolved, unresolved, workouts

Sessions = async_sessionmaker[AsyncSession]


async def test_resolved_creates_then_updates_only_when_newer(sessions: Sessions) -> None:
    user, cid = uuid.uuid4(), uuid.uuid4()
    await apply(sessions, resolved(user, cid, 2, metrics={"avg_power": 200}))
    row = (await workouts(sessions))[cid]
    assert (row.user_id, row.sport, row.start_at, row.duration_s) == (user, "ride", T0, 3600.0)
    assert (row.metrics, row.primary_source, row.removed) == ({"avg_power": 200}, "strava", False)

    await apply(sessions, resolved(user, cid, 1, minutes=10))  # older: ignored
    assert (await workouts(sessions))[cid].duration_s == 3600.0
    newer = resolved(user, cid, 3, minutes=90, source="garmin")
    await apply(sessions, newer)
    row = (await workouts(sessions))[cid]
    assert (row.duration_s, row.primary_source) == (5400.0, "garmin")
    assert (row.last_event_at, row.last_event_id) == (newer.occurred_at, newer.id)


async def test_unresolved_leaves_a_tombstone_that_older_events_cannot_lift(
    sessions: Sessions,
) -> None:
    user, cid = uuid.uuid4(), uuid.uuid4()
    await apply(sessions, resolved(user, cid, 1))
    await apply(sessions, unresolved(user, cid, 2))
    row = (await workouts(sessions))[cid]
    assert row.removed and row.sport is None and row.metrics is None
    await apply(sessions, resolved(user, cid, 1))  # a redelivery of the old event
    assert (await workouts(sessions))[cid].removed
    await apply(sessions, resolved(user, cid, 3))  # the canonical really came back
    assert not (await workouts(sessions))[cid].removed


async def test_unresolved_before_resolved(sessions: Sessions) -> None:
    user, cid = uuid.uuid4(), uuid.uuid4()
    await apply(sessions, unresolved(user, cid, 2))
    await apply(sessions, resolved(user, cid, 1))
    assert (await workouts(sessions))[cid].removed


async def test_another_users_event_cannot_overwrite(sessions: Sessions) -> None:
    owner, cid = uuid.uuid4(), uuid.uuid4()
    await apply(sessions, resolved(owner, cid, 1))
    await apply(sessions, unresolved(uuid.uuid4(), cid, 2))
    row = (await workouts(sessions))[cid]
    assert (row.user_id, row.removed) == (owner, False)


async def test_contract_violations_raise(sessions: Sessions) -> None:
    event = resolved(uuid.uuid4(), uuid.uuid4(), 1)
    with pytest.raises(ContractViolationError):
        await apply(sessions, event.model_copy(update={"user_id": None}))
    with pytest.raises(ValidationError):
        await apply(sessions, event.model_copy(update={"payload": {"canonical_id": "x"}}))
    assert await workouts(sessions) == {}


def _history() -> tuple[uuid.UUID, list[Envelope]]:
    user = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
    cids = [uuid.UUID(int=i + 1) for i in range(3)]
    return user, [
        resolved(user, cids[0], 1),
        resolved(user, cids[0], 4, minutes=75),
        unresolved(user, cids[1], 5),
        resolved(user, cids[1], 2),
        resolved(user, cids[2], 3),
        unresolved(user, cids[2], 6),
        resolved(user, cids[2], 7, sport="gravel_ride"),
    ]


USER, HISTORY = _history()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(HISTORY))
async def test_any_delivery_order_ends_in_the_newest_state(
    order: list[Envelope], engine: AsyncEngine, migrated: str
) -> None:
    await truncate_schema(migrated, SCHEMA)
    sessions = make_sessionmaker(engine)
    for event in order:
        await apply(sessions, event)
    state = {
        cid: (w.removed, w.duration_s, w.sport, w.last_event_id)
        for cid, w in (await workouts(sessions)).items()
    }
    newest = {
        uuid.UUID(int=1): (False, 4500.0, "ride", HISTORY[1].id),
        uuid.UUID(int=2): (True, None, None, HISTORY[2].id),
        uuid.UUID(int=3): (False, 3600.0, "gravel_ride", HISTORY[6].id),
    }
    assert state == newest


async def test_through_a_real_stream_consumer_with_its_inbox(
    sessions: Sessions, redis: Redis
) -> None:
    (subscription,) = [s for s in subscriptions() if s.stream == "dedup.timeline"]
    assert subscription.stream == "dedup.timeline"
    consumer = StreamConsumer(
        redis=redis,
        sessionmaker=sessions,
        inbox=BUS.inbox,
        stream=subscription.stream,
        group="analytics",
        consumer="test-1",
        handlers=subscription.handlers,
        settings=BusSettings(consumer_block_ms=50),
        service="analytics",
    )
    await consumer.ensure_group()
    event = resolved(uuid.uuid4(), uuid.uuid4(), 1)
    for _ in range(2):  # published twice by a relay that crashed before marking it
        await redis.xadd("dedup.timeline", _fields(event))
    assert await consumer.read_new() == 2
    assert len(await workouts(sessions)) == 1
    async with sessions() as session:
        inbox = await session.execute(select(func.count()).select_from(BUS.inbox))
        assert inbox.scalar_one() == 1
    assert (await redis.xpending("dedup.timeline", "analytics"))["pending"] == 0


def _fields(event: Envelope) -> dict[FieldT, EncodableT]:
    return {"event_id": str(event.id), "type": event.type, "event": event.model_dump_json()}
