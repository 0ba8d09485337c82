"""identity.events in analytics: a deleted user is refused and ignored, a purged one is gone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_analytics.accounts import service as accounts
from aurora_analytics.accounts.access import authenticated
from aurora_analytics.accounts.orm import ACCOUNTS
from aurora_analytics.app import create_app
from aurora_analytics.config import AnalyticsSettings
from aurora_analytics.consumers import subscriptions
from aurora_analytics.db import BUS, SCHEMA, STREAM
from aurora_analytics.workouts.orm import Workout
from aurora_shared.access import unguarded_routes
from aurora_shared.bus.consumer import StreamConsumer, dlq_stream
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.erasure import borrowed_redis
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.config import BusSettings
from aurora_shared.testing.gdpr import (
    IDENTITY_STREAM,
    deliver,
    grant_changed,
    guarded_requests,
    rows_naming,
    stream_entries_naming,
    user_deleted,
    user_purged,
    xadd_event,
)
from aurora_shared.testing.tokens import TestIssuer

from ..workouts.factory import apply, resolved, unresolved, workouts

Sessions = async_sessionmaker[AsyncSession]


def identity_consumer(redis: Redis, sessions: Sessions) -> StreamConsumer:
    """The worker's own subscription to identity.events, as `aurora worker` builds it."""
    (subscription,) = [s for s in subscriptions() if s.stream == IDENTITY_STREAM]
    return StreamConsumer(
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


async def analysis_event(sessions: Sessions, user_id: uuid.UUID) -> None:
    """An event on analytics' own stream (analysis.updated is not written yet: a stand-in)."""
    async with sessions() as session, session.begin():
        await enqueue(
            session,
            BUS.outbox,
            STREAM,
            new_event("analysis.updated", producer="analytics", user_id=user_id, payload={}),
        )


def test_every_route_that_takes_a_caller_is_guarded(
    settings: AnalyticsSettings, issuer: TestIssuer
) -> None:
    app = create_app(settings, issuer.key_source())
    assert unguarded_routes(app, authenticated) == []
    assert {path for _, path in guarded_requests(app, authenticated)} >= {
        "/analytics/workouts",
        "/analytics/me/export",
    }


async def test_deleted_user_is_refused_at_once_and_their_new_events_dropped(
    client: httpx.AsyncClient,
    settings: AnalyticsSettings,
    issuer: TestIssuer,
    sessions: Sessions,
    redis: Redis,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    token = issuer.headers(alice)
    kept = uuid.uuid4()
    await apply(sessions, resolved(alice, kept, 1))
    requests = guarded_requests(create_app(settings, issuer.key_source()), authenticated)
    assert len(requests) >= 2
    for method, path in requests:
        assert (await client.request(method, path, headers=token)).status_code == 200, path

    consumer = identity_consumer(redis, sessions)
    await consumer.ensure_group()
    await xadd_event(redis, IDENTITY_STREAM, user_deleted(alice))
    assert await consumer.read_new() == 1

    for method, path in requests:
        response = await client.request(method, path, headers=token)
        assert response.status_code == 401, (method, path, response.text)
    assert (await client.get("/analytics/workouts", headers=issuer.headers(bob))).status_code == 200

    def state(rows: dict[uuid.UUID, Workout]) -> dict[uuid.UUID, tuple[bool, uuid.UUID]]:
        return {cid: (w.removed, w.last_event_id) for cid, w in rows.items()}

    before = state(await workouts(sessions))
    await apply(sessions, resolved(alice, uuid.uuid4(), 2))
    await apply(sessions, unresolved(alice, kept, 3))
    assert state(await workouts(sessions)) == before
    assert before[kept][0] is False
    await apply(sessions, resolved(bob, uuid.uuid4(), 4))
    assert {w.user_id for w in (await workouts(sessions)).values()} == {alice, bob}


async def test_purge_erases_every_row_and_event_of_the_user_and_nothing_else(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    sessions: Sessions,
    engine: AsyncEngine,
    redis: Redis,
    migrated: str,
) -> None:
    alice, bob, coach = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    live, withdrawn, theirs = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for event in (
        resolved(alice, live, 1),
        resolved(alice, withdrawn, 2),
        unresolved(alice, withdrawn, 3),
    ):
        await apply(sessions, event)
    await apply(sessions, resolved(bob, theirs, 4))
    await analysis_event(sessions, alice)
    await analysis_event(sessions, bob)
    relay = OutboxRelay(engine, redis, SCHEMA, service="analytics")
    assert await relay.drain() == 2
    await analysis_event(sessions, alice)  # still unpublished when the purge comes
    first = (await redis.xrange(STREAM, count=1))[0][1]
    assert json.loads(first["event"])["user_id"] == str(alice)
    await redis.xadd(dlq_stream(STREAM), {**first, "error": "boom"})
    handlers = accounts.handlers(borrowed_redis(redis))
    for athlete in (alice, bob):
        await deliver(
            sessions,
            handlers,
            grant_changed(
                grant_id=uuid.uuid4(),
                athlete_id=athlete,
                coach_id=coach,
                active=True,
                changed_at=datetime.now(UTC),
            ),
        )
    admin = issuer.headers(uuid.uuid4(), role="admin")
    assert (await client.get(f"/analytics/workouts?athlete_id={alice}", headers=admin)).json()[
        "items"
    ]
    await deliver(sessions, handlers, user_deleted(alice))
    before = await rows_naming(migrated, SCHEMA, alice)
    assert (before["workouts"], before["outbox"], before["blocked_users"]) == (2, 2, 1)

    await deliver(sessions, handlers, user_purged(alice))
    await deliver(sessions, handlers, user_purged(alice))  # redelivered: harmless

    left = await rows_naming(migrated, SCHEMA, alice)
    assert set(left) == {"workouts", "outbox", "blocked_users"}
    assert set(left.values()) == {0}
    assert await stream_entries_naming(redis, [STREAM], alice) == {
        STREAM: 0,
        dlq_stream(STREAM): 0,
    }
    async with sessions() as session:
        grants = (
            await session.execute(select(ACCOUNTS.grants.c.athlete_id, ACCOUNTS.grants.c.coach_id))
        ).all()
    assert [g.athlete_id for g in grants] == [bob]
    kept = await rows_naming(migrated, SCHEMA, bob)
    assert (kept["workouts"], kept["outbox"]) == (1, 1)
    assert (await stream_entries_naming(redis, [STREAM], bob))[STREAM] == 1
    # Late, redelivered timeline events of alice cannot bring her back.
    await apply(sessions, resolved(alice, live, 5))
    await deliver(sessions, handlers, user_deleted(alice))
    assert set((await rows_naming(migrated, SCHEMA, alice)).values()) == {0}
    assert (
        await client.get("/analytics/workouts", headers=issuer.headers(alice))
    ).status_code == 401
