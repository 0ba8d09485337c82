"""identity.events in ingest: a deleted user is refused at once, a purged one leaves nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_ingest.accounts import service as accounts
from aurora_ingest.accounts.access import authenticated
from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.consumers import subscriptions
from aurora_ingest.db import BUS, SCHEMA, STREAM
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.raw.service import store_raw
from aurora_shared.access import unguarded_routes
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

Sessions = async_sessionmaker[AsyncSession]


def ride(ref: str, day: int = 20) -> dict[str, object]:
    return {
        "sport": "ride",
        "start": f"2026-11-{day:02d}T07:00:00+01:00",
        "duration_s": 3600,
        "client_ref": ref,
        "metrics": {"avg_hr": 150},
    }


def identity_consumer(redis: Redis, sessions: Sessions) -> StreamConsumer:
    """The worker's own subscription to identity.events, as `aurora worker` builds it."""
    (subscription,) = [s for s in subscriptions() if s.stream == IDENTITY_STREAM]
    return StreamConsumer(
        redis=redis,
        sessionmaker=sessions,
        inbox=BUS.inbox,
        stream=subscription.stream,
        group="ingest",
        consumer="test-1",
        handlers=subscription.handlers,
        settings=BusSettings(consumer_block_ms=50),
        service="ingest",
    )


def test_every_route_that_takes_a_caller_is_guarded(
    settings: IngestSettings, issuer: TestIssuer
) -> None:
    app = create_app(settings, issuer.key_source())
    assert unguarded_routes(app, authenticated) == []
    assert {path for _, path in guarded_requests(app, authenticated)} >= {
        "/records",
        "/records/me/export",
    }


async def test_deleted_user_gets_401_everywhere_as_soon_as_the_event_is_handled(
    client: httpx.AsyncClient,
    settings: IngestSettings,
    issuer: TestIssuer,
    sessions: Sessions,
    redis: Redis,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    token, other = issuer.headers(alice), issuer.headers(bob)
    assert (await client.post("/manual/workouts", json=ride("a"), headers=token)).status_code == 202
    requests = guarded_requests(create_app(settings, issuer.key_source()), authenticated)
    assert len(requests) >= 5
    for method, path in requests:
        response = await client.request(method, path, headers=token, json=ride("b"))
        assert response.status_code != 401, (method, path)

    consumer = identity_consumer(redis, sessions)
    await consumer.ensure_group()
    await xadd_event(redis, IDENTITY_STREAM, user_deleted(alice))
    assert await consumer.read_new() == 1

    for method, path in requests:
        response = await client.request(method, path, headers=token, json=ride("c"))
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    # A fresh token of the same user is no better; other users are untouched.
    again = await client.get("/records", headers=issuer.headers(alice))
    assert again.status_code == 401
    assert (await client.get("/records", headers=other)).status_code == 200


async def seed_provider_rows(sessions: Sessions, user: uuid.UUID) -> None:
    """A raw provider payload and a queued provider job naming the user."""
    async with sessions() as session, session.begin():
        await store_raw(
            session, user_id=user, provider="strava", kind="activity", external_id="1", body=b"{}"
        )
        await enqueue(
            session,
            provider="strava",
            kind="activity",
            key=f"{user}:1",
            user_id=user,
            connection_id=None,
        )


async def seed(client: httpx.AsyncClient, headers: dict[str, str], refs: list[str]) -> list[str]:
    ids = []
    for day, ref in enumerate(refs, start=10):
        response = await client.post("/manual/workouts", json=ride(ref, day), headers=headers)
        assert response.status_code == 202, response.text
        ids.append(response.json()["record_id"])
    return ids


async def test_purge_erases_every_row_and_event_of_the_user_and_nothing_else(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    sessions: Sessions,
    engine: AsyncEngine,
    redis: Redis,
    db: asyncpg.Connection,
    migrated: str,
) -> None:
    alice, bob, coach = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a_ids = await seed(client, issuer.headers(alice), ["a1", "a2", "a3"])
    await seed(client, issuer.headers(bob), ["b1", "b2"])
    # A removed record still holds the workout: it must go too.
    removed = await client.delete(f"/manual/workouts/{a_ids[0]}", headers=issuer.headers(alice))
    assert removed.status_code == 204
    relay = OutboxRelay(engine, redis, SCHEMA, service="ingest")
    assert await relay.drain() == 6
    # Alice's last event is still in the outbox when the purge comes.
    await seed(client, issuer.headers(alice), ["a4"])
    # A consumer dead-lettered one of alice's events: a copy the outbox knows nothing of.
    (_, fields), *_ = await redis.xrange(STREAM, count=1)
    await redis.xadd(dlq_stream(STREAM), {**fields, "error": "boom"})
    handlers = accounts.handlers(borrowed_redis(redis))
    for pair in ((alice, coach), (bob, coach)):
        await deliver(
            sessions,
            handlers,
            grant_changed(
                grant_id=uuid.uuid4(),
                athlete_id=pair[0],
                coach_id=pair[1],
                active=True,
                changed_at=datetime.now(UTC),
            ),
        )
    for user in (alice, bob):
        await seed_provider_rows(sessions, user)
    await deliver(sessions, handlers, user_deleted(alice))
    before = await rows_naming(migrated, SCHEMA, alice)
    assert before["raw_payloads"] == 1 and before["provider_jobs"] == 1
    assert before["records"] == 4 and before["outbox"] == 5 and before["blocked_users"] == 1
    assert (await stream_entries_naming(redis, [STREAM], alice))[dlq_stream(STREAM)] == 1

    await deliver(sessions, handlers, user_purged(alice))
    await deliver(sessions, handlers, user_purged(alice))  # redelivered: harmless

    # Every table naming a user is counted (the catalogue, not the models) and must be
    # empty for alice (the values check below); these must at least be among them.
    assert {
        "records",
        "outbox",
        "blocked_users",
        "raw_payloads",
        "provider_jobs",
        "connections",
        "uploads",
        "upload_files",
    } <= set(await rows_naming(migrated, SCHEMA, alice))
    assert set((await rows_naming(migrated, SCHEMA, alice)).values()) == {0}
    assert await stream_entries_naming(redis, [STREAM], alice) == {
        STREAM: 0,
        dlq_stream(STREAM): 0,
    }
    assert (
        await db.fetchval(
            "SELECT count(*) FROM ingest.grants WHERE $1 IN (athlete_id, coach_id)", alice
        )
        == 0
    )
    # Bob keeps everything.
    kept = await rows_naming(migrated, SCHEMA, bob)
    assert (kept["records"], kept["outbox"]) == (2, 2)
    assert (kept["raw_payloads"], kept["provider_jobs"]) == (1, 1)
    assert (await stream_entries_naming(redis, [STREAM], bob))[STREAM] == 2
    assert await db.fetchval("SELECT count(*) FROM ingest.grants WHERE athlete_id = $1", bob) == 1
    assert (await client.get("/records", headers=issuer.headers(bob))).json()["items"]
    # A late user.deleted cannot write alice's id back; her tokens stay refused.
    await deliver(sessions, handlers, user_deleted(alice))
    assert set((await rows_naming(migrated, SCHEMA, alice)).values()) == {0}
    assert (await client.get("/records", headers=issuer.headers(alice))).status_code == 401
    # The unpublished event was erased before reaching Redis; bob's still flow.
    assert await relay.drain() == 0
