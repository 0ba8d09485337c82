"""`revoke_user`, the cache rebuild and its races, pruning, and the relay's periodic sync
(checklist items 25 and 26)."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from aurora_identity.config import IdentitySettings
from aurora_identity.sessions import repository, revocation
from aurora_identity.sessions.revocation import (
    SEEDING_KEY,
    prune_expired,
    relay_extras,
    resync,
    revoke_sid,
    revoke_user,
)
from aurora_identity.sessions.service import hash_token
from aurora_identity.users.models import User
from aurora_shared.revocation import READY_KEY, sid_key, user_key
from aurora_shared.service import Runtime

from .conftest import Identity, Login


def _user_id(access_token: str) -> uuid.UUID:
    return uuid.UUID(jwt.decode(access_token, options={"verify_signature": False})["sub"])


async def test_soft_delete_with_revoke_user_refuses_the_tokens_at_once(
    identity: Identity, login: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    tokens = await login()
    other = await login()
    user_id = _user_id(tokens["access_token"])
    runtime = identity.app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(User).where(User.id == user_id).values(deleted_at=datetime.now(UTC))
        )
        cutoff = await revoke_user(session, runtime.redis, user_id)

    assert (await identity.me(tokens["access_token"])).status_code == 401
    assert (await identity.refresh(tokens["refresh_token"])).status_code == 401
    assert (await identity.me(other["access_token"])).status_code == 200
    assert await redis.get(user_key(user_id)) == str(math.floor(cutoff.timestamp()))
    ttl = await redis.pttl(user_key(user_id))
    assert 0 < ttl <= (3600 + 60) * 1000
    row = await db.fetchrow(
        "SELECT cutoff, expires_at FROM identity.revocations WHERE kind = 'user' AND key = $1",
        str(user_id),
    )
    assert row["cutoff"] == cutoff
    assert row["expires_at"] == cutoff + timedelta(seconds=3600 + 60)
    assert await db.fetchval(
        "SELECT bool_and(revoke_reason = 'user_revoked') FROM identity.refresh_tokens"
        " WHERE user_id = $1",
        user_id,
    )


async def test_a_user_cutoff_only_moves_forward(
    identity: Identity, login: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    tokens = await login()
    user_id = _user_id(tokens["access_token"])
    runtime = identity.app.state.runtime
    later = datetime.now(UTC) + timedelta(seconds=30)
    async with runtime.sessionmaker() as session, session.begin():
        first = await revoke_user(session, runtime.redis, user_id, later)
    async with runtime.sessionmaker() as session, session.begin():
        second = await revoke_user(session, runtime.redis, user_id)  # "now", i.e. earlier
    assert first == second == later
    assert await redis.get(user_key(user_id)) == str(math.floor(later.timestamp()))
    # A resync that read the older value cannot lower the cache either.
    await redis.set(user_key(user_id), str(math.floor(later.timestamp()) + 100), px=60_000)
    assert await resync(runtime.sessionmaker, runtime.redis)
    assert await redis.get(user_key(user_id)) == str(math.floor(later.timestamp()) + 100)


async def test_login_right_after_a_revocation_gets_a_working_token(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    """JWT times are whole seconds: a token issued in the cutoff's second would be born
    revoked, so issuing waits for the next second."""
    email = f"pw-{uuid.uuid4().hex[:8]}@example.com"
    tokens = await login(email)
    user_id = _user_id(tokens["access_token"])
    runtime = identity.app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        cutoff = await revoke_user(session, runtime.redis, user_id, reason="password_changed")
    fresh = await login(email)
    claims = jwt.decode(fresh["access_token"], options={"verify_signature": False})
    assert claims["iat"] > cutoff.timestamp() - 1
    assert (await identity.me(fresh["access_token"])).status_code == 200
    assert (await identity.me(tokens["access_token"])).status_code == 401


async def test_a_revocation_during_login_refuses_the_session(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    """A password change that commits while the old password is being verified."""
    from aurora_identity.sessions import service

    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    tokens = await login(email)
    user_id = _user_id(tokens["access_token"])
    runtime = identity.app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        await revoke_user(session, runtime.redis, user_id)
    ctx = identity.app.state.auth
    async with runtime.sessionmaker() as session, session.begin():
        before = datetime.now(UTC) - timedelta(seconds=5)
        refused = await service.start_session(
            session, ctx.settings, ctx.keys, user_id, not_before=before
        )
        assert refused is None
        accepted = await service.start_session(
            session, ctx.settings, ctx.keys, user_id, not_before=datetime.now(UTC)
        )
        assert accepted is not None


async def test_resync_that_races_a_flush_does_not_mark_the_cache_ready(
    identity: Identity, login: Login, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis restarted between reading PostgreSQL and EXEC: the marker must not be set
    over a cache that misses what was revoked meanwhile."""
    tokens = await login()
    await identity.http.post(
        "/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    runtime = identity.app.state.runtime
    real = repository.unexpired_revocations

    async def read_then_flush(*args: Any, **kwargs: Any) -> Sequence[Any]:
        rows = await real(*args, **kwargs)
        await redis.flushdb()
        return rows

    monkeypatch.setattr(repository, "unexpired_revocations", read_then_flush)
    assert await resync(runtime.sessionmaker, runtime.redis) is False
    assert not await redis.exists(READY_KEY)
    assert (await identity.me(tokens["access_token"])).status_code == 503
    monkeypatch.setattr(repository, "unexpired_revocations", real)
    assert await resync(runtime.sessionmaker, runtime.redis) is True
    assert not await redis.exists(SEEDING_KEY)
    assert (await identity.me(tokens["access_token"])).status_code == 401


async def test_concurrent_resyncs_agree(identity: Identity, login: Login, redis: Redis) -> None:
    tokens = await login()
    await identity.http.post(
        "/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    runtime = identity.app.state.runtime
    await redis.flushdb()
    results = await asyncio.gather(*(resync(runtime.sessionmaker, runtime.redis) for _ in range(4)))
    assert any(results)
    assert await redis.exists(READY_KEY)
    assert (await identity.me(tokens["access_token"])).status_code == 401


async def test_resync_restores_ttls_and_skips_expired_rows(
    identity: Identity, db: asyncpg.Connection, redis: Redis
) -> None:
    runtime = identity.app.state.runtime
    live, dead = uuid.uuid4(), uuid.uuid4()
    async with runtime.sessionmaker() as session, session.begin():
        await revoke_sid(session, runtime.redis, live, reason="logout", access_ttl_s=900)
        await revoke_sid(session, runtime.redis, dead, reason="logout", access_ttl_s=900)
    await db.execute(
        "UPDATE identity.revocations SET expires_at = now() - interval '1 second' WHERE key = $1",
        str(dead),
    )
    await redis.flushdb()
    assert await resync(runtime.sessionmaker, runtime.redis)
    assert await redis.exists(sid_key(live))
    assert 0 < await redis.pttl(sid_key(live)) <= 960_000
    assert not await redis.exists(sid_key(dead))


async def test_prune_drops_only_what_protects_nothing(
    identity: Identity, login: Login, db: asyncpg.Connection
) -> None:
    tokens = await login()
    runtime = identity.app.state.runtime
    expired_sid, live_sid = uuid.uuid4(), uuid.uuid4()
    async with runtime.sessionmaker() as session, session.begin():
        await revoke_sid(session, runtime.redis, expired_sid, reason="logout")
        await revoke_sid(session, runtime.redis, live_sid, reason="logout")
    await db.execute(
        "UPDATE identity.revocations SET expires_at = now() - interval '1 second' WHERE key = $1",
        str(expired_sid),
    )
    await login()  # a second family, whose token expired two days ago
    await db.execute(
        "UPDATE identity.refresh_tokens SET expires_at = now() - interval '2 days'"
        " WHERE token_hash <> $1",
        hash_token(tokens["refresh_token"]),
    )
    await prune_expired(runtime.sessionmaker)
    keys = await db.fetch("SELECT key FROM identity.revocations")
    assert [r["key"] for r in keys] == [str(live_sid)]
    assert await db.fetchval("SELECT count(*) FROM identity.refresh_tokens") == 1


async def test_the_relay_component_reseeds_a_flushed_cache(
    settings: IdentitySettings, identity: Identity, login: Login, redis: Redis
) -> None:
    tokens = await login()
    await identity.http.post(
        "/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    await redis.flushdb()
    runtime = Runtime.open(settings.model_copy(update={"revocation_sync_interval_s": 0.1}))
    stop = asyncio.Event()
    try:
        components = relay_extras(runtime)
        assert len(components) == 2
        tasks = [asyncio.create_task(c(stop)) for c in components]
        deadline = time.monotonic() + 10
        while not await redis.exists(READY_KEY):
            assert time.monotonic() < deadline, "the relay never reseeded the cache"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    finally:
        stop.set()
        await runtime.close()
    assert (await identity.me(tokens["access_token"])).status_code == 401


def test_the_identity_relay_runs_the_revocation_sync() -> None:
    from aurora_identity.main import SPEC

    assert SPEC.relay_extras is revocation.relay_extras
