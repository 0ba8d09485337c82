"""The revocation check of `current_principal`: one MGET, 401 when revoked, 503 when the
cache cannot vouch for the token (never a 200)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from redis.asyncio import Redis

from aurora_shared import revocation
from aurora_shared.auth import Principal, current_principal
from aurora_shared.bus.runtime import make_redis
from aurora_shared.config import ServiceSettings
from aurora_shared.revocation import READY_KEY, sid_key, user_key
from aurora_shared.service import build_app
from aurora_shared.testing.tokens import TestIssuer


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/who")
    async def who(principal: Principal = Depends(current_principal)) -> dict[str, str]:
        return {"user_id": str(principal.user_id)}

    return router


@dataclass
class Kit:
    app: FastAPI
    http: httpx.AsyncClient
    issuer: TestIssuer
    redis: Redis

    async def who(self, token: str) -> httpx.Response:
        return await self.http.get("/who", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def kit(database_url: str, redis_url: str, redis: Redis) -> AsyncIterator[Kit]:
    issuer = TestIssuer()
    settings = ServiceSettings(service_name="kit", database_url=database_url, redis_url=redis_url)
    app = build_app(
        settings, title="kit", description="", routers=[_router()], key_source=issuer.key_source()
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield Kit(app, http, issuer, redis)


def _assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "revocation state unavailable"
    assert response.headers["retry-after"] == "1"


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "token revoked"


async def test_valid_tokens_pass_with_and_without_sid(kit: Kit) -> None:
    user = uuid.uuid4()
    assert (await kit.who(kit.issuer.mint(user))).status_code == 200
    assert (await kit.who(kit.issuer.mint(user, sid=uuid.uuid4()))).status_code == 200


async def test_a_missing_ready_marker_is_503_never_200(kit: Kit) -> None:
    await kit.redis.delete(READY_KEY)
    _assert_503(await kit.who(kit.issuer.mint(uuid.uuid4())))
    _assert_503(await kit.who(kit.issuer.mint(uuid.uuid4(), sid=uuid.uuid4())))


async def test_a_revoked_sid_is_401_and_other_sessions_pass(kit: Kit) -> None:
    user, sid = uuid.uuid4(), uuid.uuid4()
    await kit.redis.set(sid_key(sid), "1")
    _assert_401(await kit.who(kit.issuer.mint(user, sid=sid)))
    assert (await kit.who(kit.issuer.mint(user, sid=uuid.uuid4()))).status_code == 200


async def test_user_cutoff_refuses_tokens_issued_up_to_it(kit: Kit) -> None:
    user = uuid.uuid4()
    cutoff = int(time.time()) - 10
    await kit.redis.set(user_key(user), str(cutoff))
    for iat in (cutoff - 100, cutoff):
        _assert_401(await kit.who(kit.issuer.mint(user, iat=iat)))
        _assert_401(await kit.who(kit.issuer.mint(user, sid=uuid.uuid4(), iat=iat)))
    assert (await kit.who(kit.issuer.mint(user, iat=cutoff + 1))).status_code == 200
    # Another user's cutoff is not this one's.
    assert (await kit.who(kit.issuer.mint(uuid.uuid4(), iat=cutoff - 100))).status_code == 200


async def test_an_unreadable_cutoff_is_503(kit: Kit) -> None:
    user = uuid.uuid4()
    await kit.redis.set(user_key(user), "not a number")
    _assert_503(await kit.who(kit.issuer.mint(user)))


async def test_one_round_trip_per_request(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    redis = kit.app.state.runtime.redis
    commands: list[tuple[Any, ...]] = []
    original = redis.execute_command

    async def counting(*args: Any, **kwargs: Any) -> Any:
        commands.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(redis, "execute_command", counting)
    assert (await kit.who(kit.issuer.mint(uuid.uuid4(), sid=uuid.uuid4()))).status_code == 200
    assert [c[0] for c in commands] == ["MGET"]
    assert len(commands[0]) == 4  # MGET ready user sid


async def test_unreachable_redis_is_503(kit: Kit) -> None:
    runtime = kit.app.state.runtime
    live = runtime.redis
    runtime.redis = make_redis("redis://127.0.0.1:1/0", socket_timeout_s=1.0)
    try:
        _assert_503(await kit.who(kit.issuer.mint(uuid.uuid4())))
    finally:
        await runtime.redis.aclose()
        runtime.redis = live


async def test_a_hanging_redis_is_503_within_the_check_timeout(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis that accepts connections and never answers (SIGSTOP, a partition)."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(revocation, "CHECK_TIMEOUT_S", 0.5)
    runtime = kit.app.state.runtime
    live = runtime.redis
    runtime.redis = make_redis(f"redis://127.0.0.1:{port}/0", socket_timeout_s=30.0)
    try:
        started = time.monotonic()
        _assert_503(await kit.who(kit.issuer.mint(uuid.uuid4())))
        assert time.monotonic() - started < 5
    finally:
        await runtime.redis.aclose()
        runtime.redis = live
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_invalid_tokens_are_refused_before_redis_is_asked(kit: Kit) -> None:
    """A forged token gets its 401 even while the cache is down: no oracle, no load."""
    await kit.redis.delete(READY_KEY)
    stranger = TestIssuer()
    response = await kit.who(stranger.mint(uuid.uuid4()))
    assert response.status_code == 401
    assert response.json()["detail"] != "token revoked"


@pytest.mark.parametrize(
    ("ready", "cutoff", "sid", "iat", "expected"),
    [
        # No marker: nothing the cache says counts, whatever it says.
        (None, None, None, 100, "unknown"),
        (None, "50", None, 100, "unknown"),
        (None, None, "1", 100, "unknown"),
        (None, "500", "1", 100, "unknown"),
        # Nothing revoked.
        ("1", None, None, 100, "valid"),
        # The session is revoked, whatever the user's cutoff.
        ("1", None, "1", 100, "revoked"),
        ("1", "50", "1", 100, "revoked"),
        ("1", "500", "1", 100, "revoked"),
        # The user's cutoff: iat <= cutoff is revoked, the boundary included.
        ("1", "99", None, 100, "valid"),
        ("1", "100", None, 100, "revoked"),
        ("1", "101", None, 100, "revoked"),
        ("1", "100.5", None, 100, "revoked"),
        ("1", "99", None, 100.0, "valid"),
        # Unreadable entries or claims are not evidence of validity.
        ("1", "soon", None, 100, "unknown"),
        ("1", "nan", None, 100, "unknown"),
        ("1", "inf", None, 100, "unknown"),
        ("1", "99", None, None, "unknown"),
        ("1", "99", None, "x", "unknown"),
    ],
)
def test_verdict_truth_table(
    ready: str | None, cutoff: str | None, sid: str | None, iat: object, expected: str
) -> None:
    assert revocation.verdict(ready, cutoff, sid, iat) == expected
