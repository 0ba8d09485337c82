"""DELETE /users/me: the password again, then a soft delete that takes effect at once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from aurora_shared.revocation import user_key

PASSWORD = "correct horse battery staple"
Login = Callable[[str], Awaitable[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def delete_me(client: httpx.AsyncClient, token: str, body: object) -> httpx.Response:
    return await client.request("DELETE", "/users/me", headers=auth(token), json=body)


async def test_deletion_soft_deletes_revokes_and_announces(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    token = await signup("del@example.com")
    user_id = await db.fetchval("SELECT id FROM identity.users")
    await db.execute("DELETE FROM identity.outbox")
    before = datetime.now(UTC)

    response = await delete_me(client, token, {"password": PASSWORD})
    assert response.status_code == 202, response.text
    body = response.json()
    deleted_at = datetime.fromisoformat(body["deleted_at"])
    assert before <= deleted_at <= datetime.now(UTC)
    assert datetime.fromisoformat(body["purge_after"]) == deleted_at + timedelta(days=30)
    assert body["status"] == "deleted"

    row = await db.fetchrow("SELECT * FROM identity.users")
    assert row["deleted_at"] == deleted_at
    outbox = await db.fetch("SELECT * FROM identity.outbox")
    assert [r["event_type"] for r in outbox] == ["user.deleted"]
    envelope = json.loads(outbox[0]["envelope"])
    assert envelope["user_id"] == str(user_id)
    assert envelope["payload"]["user_id"] == str(user_id)
    assert datetime.fromisoformat(envelope["payload"]["deleted_at"]) == deleted_at
    # Tokens die at once, here and (through the revocation cache) in every service.
    assert await redis.get(user_key(user_id)) is not None
    assert (await client.get("/users/me", headers=auth(token))).status_code == 401
    # Signing in looks exactly like an unknown address.
    gone = await client.post("/auth/login", json={"email": "del@example.com", "password": PASSWORD})
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert gone.status_code == 401
    assert gone.content == unknown.content


async def test_wrong_password_deletes_nothing_and_is_counted(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    token = await signup("keep@example.com")
    await db.execute("DELETE FROM identity.outbox")
    response = await delete_me(client, token, {"password": "not the password"})
    assert response.status_code == 401
    assert response.json()["detail"] == "password is incorrect"
    assert await db.fetchval("SELECT deleted_at FROM identity.users") is None
    assert await db.fetchval("SELECT count(*) FROM identity.outbox") == 0
    assert await db.fetchval("SELECT failures FROM identity.login_throttle") == 1
    assert (await client.get("/users/me", headers=auth(token))).status_code == 200


@pytest.mark.parametrize(
    "body",
    [None, {}, {"password": ""}, {"password": 12345}, {"password": PASSWORD, "force": True}],
)
async def test_missing_or_malformed_password_is_a_422(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, body: object
) -> None:
    token = await signup("keep2@example.com")
    response = await delete_me(client, token, body)
    assert response.status_code == 422
    assert await db.fetchval("SELECT deleted_at FROM identity.users") is None


async def test_deletion_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.request("DELETE", "/users/me", json={"password": PASSWORD})
    assert response.status_code == 401


async def test_deletion_password_guessing_is_throttled(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    token = await signup("guard@example.com")
    for n in range(10):
        assert (await delete_me(client, token, {"password": f"guess {n}"})).status_code == 401
    blocked = await delete_me(client, token, {"password": PASSWORD})
    assert blocked.status_code == 429
    assert "retry-after" in blocked.headers
    assert await db.fetchval("SELECT deleted_at FROM identity.users") is None
