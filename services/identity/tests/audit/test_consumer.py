"""Identity's worker keeps other services' audit events (stream `audit.events`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import asyncpg
import pytest
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.audit.service import handle_audit_recorded
from aurora_identity.config import IdentitySettings
from aurora_identity.consumers import AUDIT_STREAM, subscriptions
from aurora_identity.db import BUS
from aurora_identity.main import SPEC
from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.service import Runtime, build_consumers


@pytest.fixture
async def consumer(
    settings: IdentitySettings, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[StreamConsumer]:
    """The consumer `aurora run` starts in identity's worker, over an emptied schema."""
    runtime = Runtime.open(settings)
    try:
        [audit_consumer] = build_consumers(runtime, BUS.inbox, subscriptions())
        await audit_consumer.ensure_group()
        yield audit_consumer
    finally:
        await runtime.close()


def _audit_event(details: Mapping[str, object], **payload: object) -> Envelope:
    event = new_event(
        "audit.recorded",
        producer="analytics",
        user_id=None,
        occurred_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        payload={"action": "analysis.viewed", "details": details, **payload},
    )
    return event.model_copy(update={"request_id": "req-analytics-1"})


async def _publish(redis: Redis, event: Envelope) -> None:
    await redis.xadd(AUDIT_STREAM, {"event": event.model_dump_json()})


def test_identity_now_runs_a_worker() -> None:
    """The supervisor starts a worker for a service exactly when it has subscriptions."""
    assert SPEC.has_consumers()
    assert [s.stream for s in subscriptions()] == ["audit.events"]


async def test_an_audit_event_becomes_one_row_even_when_delivered_twice(
    consumer: StreamConsumer, redis: Redis, db: asyncpg.Connection
) -> None:
    admin, athlete = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO identity.users (id, email, password_hash, role) "
        "VALUES ($1, 'boss@example.com', 'x', 'admin'), ($2, 'ann@example.com', 'x', 'athlete')",
        admin,
        athlete,
    )
    event = _audit_event(
        {"workout": "w-1", "fields": ["zones"]},
        actor_id=str(admin),
        actor_role="admin",
        subject_user_id=str(athlete),
        resource="analytics/zones",
    )
    await _publish(redis, event)
    await _publish(redis, event)  # at-least-once delivery: the same event again
    assert await consumer.read_new() == 2

    rows = await db.fetch("SELECT * FROM identity.audit_log")
    assert len(rows) == 1
    row = rows[0]
    assert row["action"] == "analysis.viewed"
    assert (row["actor_id"], row["actor_email"], row["actor_role"]) == (
        admin,
        "boss@example.com",
        "admin",
    )
    assert (row["subject_user_id"], row["subject_email"]) == (athlete, "ann@example.com")
    assert row["resource"] == "analytics/zones"
    assert json.loads(row["details"]) == {"workout": "w-1", "fields": ["zones"]}
    assert row["service"] == "analytics"
    assert row["at"] == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert row["request_id"] == "req-analytics-1"
    assert row["redacted"] is False
    pending = await redis.xpending(AUDIT_STREAM, "identity")
    assert pending["pending"] == 0


async def test_secret_keys_in_an_event_are_stripped_and_flagged_not_dead_lettered(
    consumer: StreamConsumer, redis: Redis, db: asyncpg.Connection
) -> None:
    details = {
        "provider": "strava",
        "oauth": {"accessToken": "at-123", "refresh_token": "rt-456", "expires_in": 3600},
        "headers": [{"Authorization": "Bearer abc"}, {"accept": "json"}],
        "Client-Secret": "cs",
    }
    await _publish(redis, _audit_event(details, actor_role="system"))
    assert await consumer.read_new() == 1

    row = await db.fetchrow("SELECT details, redacted FROM identity.audit_log")
    assert row is not None
    assert row["redacted"] is True
    assert json.loads(row["details"]) == {
        "provider": "strava",
        "oauth": {"expires_in": 3600},
        "headers": [{}, {"accept": "json"}],
    }
    for secret in ("at-123", "rt-456", "Bearer abc", "cs"):
        assert secret not in row["details"]
    assert await redis.exists(f"{AUDIT_STREAM}.dlq") == 0


async def test_a_malformed_audit_event_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """No action: the handler raises, so the consumer retries and then dead-letters it."""
    event = new_event("audit.recorded", producer="ingest", user_id=None, payload={"details": {}})
    async with sessions() as session:
        with pytest.raises(ValidationError):
            await handle_audit_recorded(session, event)
