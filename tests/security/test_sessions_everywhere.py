"""Revocation reaches every service: logout, a soft-deleted user, a lost or unreachable
Redis (checklist items 25 and 26).

Identity runs with its own key table; the three other services verify identity's
real tokens with the keys of its JWKS, and read the same Redis, as in production.
A revoked token must answer 401 in all four, a cache that cannot vouch for a
token 503, and never 200.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import update

from aurora_analytics.app import create_app as analytics_app
from aurora_analytics.config import AnalyticsSettings
from aurora_analytics.main import SPEC as ANALYTICS
from aurora_dedup.app import create_app as dedup_app
from aurora_dedup.config import DedupSettings
from aurora_dedup.main import SPEC as DEDUP
from aurora_identity.app import create_app as identity_app
from aurora_identity.config import IdentitySettings
from aurora_identity.main import SPEC as IDENTITY
from aurora_identity.sessions.revocation import reseed_if_needed, revoke_user
from aurora_identity.users.models import User
from aurora_ingest.app import create_app as ingest_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.main import SPEC as INGEST
from aurora_shared.auth import StaticKeys
from aurora_shared.bus.runtime import make_redis
from aurora_shared.embedded import EmbeddedRedis
from aurora_shared.revocation import READY_KEY
from aurora_shared.testing.service import running_app

PASSWORD = "correct horse battery staple"
# One protected read per service.
PROBES = {
    "identity": "/users/me",
    "ingest": "/records",
    "dedup": "/timeline",
    "analytics": "/analytics/workouts",
}


@dataclass
class Suite:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]

    @property
    def identity(self) -> httpx.AsyncClient:
        return self.clients["identity"]

    async def statuses(self, access_token: str) -> dict[str, int]:
        headers = {"Authorization": f"Bearer {access_token}"}
        return {
            name: (await client.get(PROBES[name], headers=headers)).status_code
            for name, client in self.clients.items()
        }

    async def login(self) -> dict[str, str]:
        email = f"everywhere-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": PASSWORD}
        assert (await self.identity.post("/auth/register", json=body)).status_code == 202
        answer = await self.identity.post("/auth/login", json=body)
        assert answer.status_code == 200, answer.text
        tokens: dict[str, str] = answer.json()
        return tokens


def _accepted(statuses: dict[str, int]) -> bool:
    """Authenticated everywhere: whatever each service then answers, it is not a refusal."""
    return all(code < 500 and code not in (401, 403) for code in statuses.values())


def _all(statuses: dict[str, int], code: int) -> bool:
    return set(statuses.values()) == {code} and set(statuses) == set(PROBES)


@pytest.fixture(scope="module")
def every_schema(database_url: str) -> str:
    for spec in (IDENTITY, INGEST, DEDUP, ANALYTICS):
        spec.migrate(database_url)
    return database_url


@asynccontextmanager
async def running_suite(database_url: str, redis_url: str) -> AsyncIterator[Suite]:
    async with AsyncExitStack() as stack:
        identity = identity_app(IdentitySettings(database_url=database_url, redis_url=redis_url))
        apps: dict[str, FastAPI] = {"identity": identity}
        clients = {"identity": await stack.enter_async_context(running_app(identity))}
        keys = StaticKeys((await clients["identity"].get("/.well-known/jwks.json")).json())
        db, rd = database_url, redis_url
        apps["ingest"] = ingest_app(IngestSettings(database_url=db, redis_url=rd), keys)
        apps["dedup"] = dedup_app(DedupSettings(database_url=db, redis_url=rd), keys)
        apps["analytics"] = analytics_app(AnalyticsSettings(database_url=db, redis_url=rd), keys)
        for name in ("ingest", "dedup", "analytics"):
            clients[name] = await stack.enter_async_context(running_app(apps[name]))
        yield Suite(apps, clients)


@pytest.fixture
async def suite(every_schema: str, redis_url: str, redis: Redis) -> AsyncIterator[Suite]:
    async with running_suite(every_schema, redis_url) as running:
        yield running


async def test_logout_is_401_everywhere_and_a_lost_cache_never_revives_it(
    suite: Suite, redis: Redis
) -> None:
    gone, alive = await suite.login(), await suite.login()
    assert _accepted(await suite.statuses(gone["access_token"]))

    out = await suite.identity.post(
        "/auth/logout", headers={"Authorization": f"Bearer {gone['access_token']}"}
    )
    assert out.status_code == 204
    assert _all(await suite.statuses(gone["access_token"]), 401)
    assert _accepted(await suite.statuses(alive["access_token"]))

    await redis.flushdb()  # Redis restarted without persistence
    assert _all(await suite.statuses(gone["access_token"]), 503)
    assert _all(await suite.statuses(alive["access_token"]), 503)

    runtime = suite.apps["identity"].state.runtime
    assert await reseed_if_needed(runtime.sessionmaker, runtime.redis)
    assert _all(await suite.statuses(gone["access_token"]), 401)
    assert _accepted(await suite.statuses(alive["access_token"]))


async def test_unreachable_redis_is_503_everywhere(suite: Suite) -> None:
    tokens = await suite.login()
    dead = make_redis("redis://127.0.0.1:1/0", socket_timeout_s=1.0)
    live = {name: app.state.runtime.redis for name, app in suite.apps.items()}
    try:
        for app in suite.apps.values():
            app.state.runtime.redis = dead
        assert _all(await suite.statuses(tokens["access_token"]), 503)
    finally:
        for name, app in suite.apps.items():
            app.state.runtime.redis = live[name]
        await dead.aclose()
    assert _accepted(await suite.statuses(tokens["access_token"]))


async def test_a_soft_deleted_user_is_refused_everywhere_at_once(suite: Suite) -> None:
    tokens, bystander = await suite.login(), await suite.login()
    me = (
        await suite.identity.get(
            "/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    ).json()
    user_id = uuid.UUID(me["id"])
    assert _accepted(await suite.statuses(tokens["access_token"]))

    runtime = suite.apps["identity"].state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        deleted_at = datetime.now(UTC)
        await session.execute(update(User).where(User.id == user_id).values(deleted_at=deleted_at))
        await revoke_user(session, runtime.redis, user_id, deleted_at, reason="deleted")

    assert _all(await suite.statuses(tokens["access_token"]), 401)
    refused = await suite.identity.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refused.status_code == 401
    assert _accepted(await suite.statuses(bystander["access_token"]))


@pytest.mark.faults
@pytest.mark.timeout(120)
async def test_a_real_redis_restart_never_revives_a_logged_out_token(
    every_schema: str, tmp_path: Path
) -> None:
    """The same with a real redis-server without persistence, killed and started again."""
    server = EmbeddedRedis(tmp_path / "redis", appendonly=False)
    url = server.start()
    try:
        async with running_suite(every_schema, url) as suite:
            gone, alive = await suite.login(), await suite.login()
            await suite.identity.post(
                "/auth/logout", headers={"Authorization": f"Bearer {gone['access_token']}"}
            )
            assert _all(await suite.statuses(gone["access_token"]), 401)

            server.kill()
            assert _all(await suite.statuses(gone["access_token"]), 503)  # Redis down
            server.start()
            probe = make_redis(url)
            try:
                assert not await probe.exists(READY_KEY)
            finally:
                await probe.aclose()
            assert _all(await suite.statuses(gone["access_token"]), 503)  # empty cache
            assert _all(await suite.statuses(alive["access_token"]), 503)

            runtime = suite.apps["identity"].state.runtime
            assert await reseed_if_needed(runtime.sessionmaker, runtime.redis)
            assert _all(await suite.statuses(gone["access_token"]), 401)
            assert _accepted(await suite.statuses(alive["access_token"]))
    finally:
        server.stop()
