"""POST /auth/logout, and a revocation surviving the loss of its Redis cache (item 25)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import jwt
import pytest
from redis.asyncio import Redis

from aurora_identity.sessions.revocation import reseed_if_needed
from aurora_shared.bus.runtime import make_redis
from aurora_shared.revocation import READY_KEY, sid_key

from .conftest import Identity, Login, bearer


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    """A client of a port nobody listens on: every command fails to connect."""
    client = make_redis("redis://127.0.0.1:1/0", socket_timeout_s=1.0)
    try:
        yield client
    finally:
        await client.aclose()


async def test_logout_revokes_the_session_and_only_it(
    identity: Identity, login: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    email = f"out-{uuid.uuid4().hex[:8]}@example.com"
    phone = await login(email)
    laptop = await login(email)
    out = await identity.http.post("/auth/logout", headers=bearer(phone["access_token"]))
    assert out.status_code == 204, out.text

    gone = await identity.me(phone["access_token"])
    assert gone.status_code == 401
    assert gone.headers["www-authenticate"] == "Bearer"
    assert (await identity.refresh(phone["refresh_token"])).status_code == 401
    assert (await identity.me(laptop["access_token"])).status_code == 200
    assert (await identity.refresh(laptop["refresh_token"])).status_code == 200

    sid = jwt.decode(phone["access_token"], options={"verify_signature": False})["sid"]
    assert await redis.exists(sid_key(sid))
    reason = await db.fetchval(
        "SELECT DISTINCT revoke_reason FROM identity.refresh_tokens WHERE family_id = $1",
        uuid.UUID(sid),
    )
    assert reason == "logout"
    # Logging out twice is harmless; the revoked token itself can no longer call it.
    again = await identity.http.post("/auth/logout", headers=bearer(phone["access_token"]))
    assert again.status_code == 401


async def test_logout_needs_a_token(identity: Identity) -> None:
    assert (await identity.http.post("/auth/logout")).status_code == 401


async def test_lost_cache_answers_503_until_reseeded_then_still_401(
    identity: Identity, login: Login, redis: Redis
) -> None:
    """Redis restarted without persistence: the revoked token must never come back."""
    revoked = await login()
    alive = await login()
    await identity.http.post("/auth/logout", headers=bearer(revoked["access_token"]))
    assert (await identity.me(revoked["access_token"])).status_code == 401

    await redis.flushdb()  # what a restart without persistence leaves
    for tokens in (revoked, alive):
        answer = await identity.me(tokens["access_token"])
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "revocation state unavailable"

    runtime = identity.app.state.runtime
    assert await reseed_if_needed(runtime.sessionmaker, runtime.redis) is True
    assert await redis.exists(READY_KEY)
    assert (await identity.me(revoked["access_token"])).status_code == 401
    assert (await identity.me(alive["access_token"])).status_code == 200
    assert await reseed_if_needed(runtime.sessionmaker, runtime.redis) is False


async def test_unreachable_redis_answers_503_and_logout_does_not_half_happen(
    identity: Identity, login: Login, dead_redis: Redis, db: asyncpg.Connection
) -> None:
    tokens = await login()
    runtime = identity.app.state.runtime
    live = runtime.redis
    runtime.redis = dead_redis
    try:
        answer = await identity.me(tokens["access_token"])
        assert answer.status_code == 503
        assert answer.json()["detail"] == "revocation state unavailable"
        out = await identity.http.post("/auth/logout", headers=bearer(tokens["access_token"]))
        assert out.status_code == 503
    finally:
        runtime.redis = live
    # PostgreSQL and the cache agree: nothing was revoked.
    assert await db.fetchval("SELECT count(*) FROM identity.revocations") == 0
    assert (await identity.me(tokens["access_token"])).status_code == 200


async def test_logout_while_redis_cannot_be_written_rolls_back(
    identity: Identity, login: Login, db: asyncpg.Connection, dead_redis: Redis
) -> None:
    """The revocation is written to Redis before the commit; if that fails the whole
    logout fails (503) rather than committing a revocation the cache does not know."""
    from aurora_identity.sessions import endpoints

    tokens = await login()
    identity.app.dependency_overrides[endpoints.redis_client] = lambda: dead_redis
    try:
        out = await identity.http.post("/auth/logout", headers=bearer(tokens["access_token"]))
    finally:
        identity.app.dependency_overrides.clear()
    assert out.status_code == 503
    assert await db.fetchval("SELECT count(*) FROM identity.revocations") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM identity.refresh_tokens WHERE revoked_at IS NULL")
        == 1
    )
    assert (await identity.me(tokens["access_token"])).status_code == 200
    assert (await identity.refresh(tokens["refresh_token"])).status_code == 200
