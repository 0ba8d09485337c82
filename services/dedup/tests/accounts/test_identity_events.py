"""identity.events in dedup: a deleted user is refused and ignored, a purged one leaves nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_dedup.accounts import service as accounts
from aurora_dedup.accounts.access import authenticated
from aurora_dedup.accounts.orm import ACCOUNTS
from aurora_dedup.app import create_app
from aurora_dedup.config import DedupSettings
from aurora_dedup.consumers import subscriptions
from aurora_dedup.db import BUS, SCHEMA, STREAM
from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.access import AUDIT_STREAM, unguarded_routes
from aurora_shared.bus.consumer import StreamConsumer, dlq_stream
from aurora_shared.bus.erasure import borrowed_redis
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

from ..timeline.factory import Workout, apply, canonicals, records

Sessions = async_sessionmaker[AsyncSession]


def identity_consumer(redis: Redis, sessions: Sessions) -> StreamConsumer:
    """The worker's own subscription to identity.events, as `aurora worker` builds it."""
    (subscription,) = [s for s in subscriptions() if s.stream == IDENTITY_STREAM]
    return StreamConsumer(
        redis=redis,
        sessionmaker=sessions,
        inbox=BUS.inbox,
        stream=subscription.stream,
        group="dedup",
        consumer="test-1",
        handlers=subscription.handlers,
        settings=BusSettings(consumer_block_ms=50),
        service="dedup",
    )


def test_every_route_that_takes_a_caller_is_guarded(
    settings: DedupSettings, issuer: TestIssuer
) -> None:
    app = create_app(settings, issuer.key_source())
    assert unguarded_routes(app, authenticated) == []
    assert {path for _, path in guarded_requests(app, authenticated)} >= {
        "/timeline",
        "/timeline/me/export",
    }


async def test_deleted_user_is_refused_at_once_and_their_new_events_dropped(
    client: httpx.AsyncClient,
    settings: DedupSettings,
    issuer: TestIssuer,
    sessions: Sessions,
    redis: Redis,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    token = issuer.headers(alice)
    ride = Workout(alice)
    await apply(sessions, ride.ingested(1))
    requests = guarded_requests(create_app(settings, issuer.key_source()), authenticated)
    assert len(requests) >= 3
    for method, path in requests:
        assert (await client.request(method, path, headers=token)).status_code != 401, path
    assert (await client.get("/timeline", headers=token)).json()["items"]

    consumer = identity_consumer(redis, sessions)
    await consumer.ensure_group()
    await xadd_event(redis, IDENTITY_STREAM, user_deleted(alice))
    assert await consumer.read_new() == 1

    for method, path in requests:
        response = await client.request(method, path, headers=token)
        assert response.status_code == 401, (method, path, response.text)
    assert (await client.get("/timeline", headers=issuer.headers(bob))).status_code == 200

    # Ingest events of the deleted user arriving now change nothing.
    before = {r.id: r.last_event_id for r in (await records(sessions)).values()}
    later = Workout(alice, start_min=600)
    await apply(sessions, later.ingested(2))
    await apply(sessions, ride.removed(3))
    assert {r.id: r.last_event_id for r in (await records(sessions)).values()} == before
    # Another user's events still flow.
    await apply(sessions, Workout(bob).ingested(4))
    assert {r.user_id for r in (await records(sessions)).values()} == {alice, bob}


async def test_purge_erases_every_row_and_event_of_the_user_and_nothing_else(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    sessions: Sessions,
    engine: AsyncEngine,
    redis: Redis,
    migrated: str,
) -> None:
    alice, bob, coach = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    primary = Workout(alice, source="strava", device="Garmin Edge 530")
    duplicate = Workout(alice, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54)
    gone = Workout(alice, sport="run", start_min=24 * 60)
    theirs = Workout(bob, start_min=30)
    for event in (primary.ingested(1), duplicate.ingested(2), gone.ingested(3), gone.removed(4)):
        await apply(sessions, event)
    await apply(sessions, theirs.ingested(5))
    relay = OutboxRelay(engine, redis, SCHEMA, service="dedup")
    published = await relay.drain()
    assert published >= 4
    # Alice's newest event is still in the outbox when the purge comes.
    await apply(sessions, Workout(alice, sport="swim", start_min=3 * 24 * 60).ingested(6))
    first = (await redis.xrange(STREAM, count=1))[0][1]
    assert json.loads(first["event"])["user_id"] == str(alice)
    await redis.xadd(dlq_stream(STREAM), {**first, "error": "boom"})
    handlers = accounts.handlers(borrowed_redis(redis))
    now = datetime.now(UTC)
    for athlete, c in ((alice, coach), (bob, coach), (bob, alice)):
        await deliver(
            sessions,
            handlers,
            grant_changed(
                grant_id=uuid.uuid4(), athlete_id=athlete, coach_id=c, active=True, changed_at=now
            ),
        )
    # An admin looked at alice's timeline: that audit record must survive her erasure.
    admin = issuer.headers(uuid.uuid4(), role="admin")
    viewed = await client.get(f"/timeline?athlete_id={alice}", headers=admin)
    assert viewed.status_code == 200 and len(viewed.json()["items"]) == 2
    await deliver(sessions, handlers, user_deleted(alice))
    before = await rows_naming(migrated, SCHEMA, alice)
    assert before["source_records"] == 4 and before["canonical_workouts"] >= 2
    assert before["outbox"] >= 4 and before["blocked_users"] == 1

    await deliver(sessions, handlers, user_purged(alice))
    await deliver(sessions, handlers, user_purged(alice))  # redelivered: harmless

    left = await rows_naming(migrated, SCHEMA, alice)
    assert set(left) == {
        "source_records",
        "canonical_workouts",
        "health_records",
        "health_days",
        "workout_links",
        "priority_overrides",
        "outbox",
        "blocked_users",
    }
    assert set(left.values()) == {0}
    assert await stream_entries_naming(redis, [STREAM], alice) == {
        STREAM: 0,
        dlq_stream(STREAM): 0,
    }
    async with sessions() as session:
        grants = (
            await session.execute(select(ACCOUNTS.grants.c.athlete_id, ACCOUNTS.grants.c.coach_id))
        ).all()
        audits = (
            await session.execute(
                select(BUS.outbox.c.user_id, BUS.outbox.c.envelope).where(
                    BUS.outbox.c.stream == AUDIT_STREAM
                )
            )
        ).all()
    assert [(g.athlete_id, g.coach_id) for g in grants] == [(bob, coach)]
    ((audit_user, audit),) = audits
    assert audit_user is None
    assert json.loads(audit)["payload"]["subject_user_id"] == str(alice)
    # Bob keeps everything.
    kept = await rows_naming(migrated, SCHEMA, bob)
    assert (kept["source_records"], kept["canonical_workouts"]) == (1, 1)
    assert kept["outbox"] >= 1
    assert (await stream_entries_naming(redis, [STREAM], bob))[STREAM] >= 1
    assert canonical_id_for(theirs.record_id) in await canonicals(sessions)
    # A late, redelivered ingest event of alice cannot bring her back.
    await apply(sessions, primary.ingested(7))
    await deliver(sessions, handlers, user_deleted(alice))
    assert set((await rows_naming(migrated, SCHEMA, alice)).values()) == {0}
    assert (await client.get("/timeline", headers=issuer.headers(alice))).status_code == 401
