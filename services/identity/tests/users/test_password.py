"""POST /users/me/password: the current password again, then every session ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from redis.asyncio import Redis

from aurora_shared.revocation import user_key

PASSWORD = "correct horse battery staple"
NEW = "a brand new passphrase"
Login = Callable[[str], Awaitable[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_change_replaces_the_password_and_revokes_every_token(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    token = await signup("wes@example.com")
    other_device = (await login(client, "wes@example.com", PASSWORD)).json()
    response = await client.post(
        "/users/me/password",
        headers=auth(token),
        json={"current_password": PASSWORD, "new_password": NEW},
    )
    assert response.status_code == 204, response.text
    assert response.content == b""

    row = await db.fetchrow("SELECT * FROM identity.users")
    assert row["password_changed_at"] is not None
    assert row["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    # Every token issued before the change is dead: this one, the other device's
    # access token, and its refresh token.
    assert (await client.get("/users/me", headers=auth(token))).status_code == 401
    assert (
        await client.get("/users/me", headers=auth(other_device["access_token"]))
    ).status_code == 401
    if "refresh_token" in other_device:
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": other_device["refresh_token"]}
        )
        assert refreshed.status_code == 401
    assert await redis.get(user_key(row["id"])) is not None
    # The old password no longer signs in; the new one does, with a working token.
    assert (await login(client, "wes@example.com", PASSWORD)).status_code == 401
    fresh = await login(client, "wes@example.com", NEW)
    assert fresh.status_code == 200
    me = await client.get("/users/me", headers=auth(fresh.json()["access_token"]))
    assert me.status_code == 200


async def test_wrong_current_password_is_refused_and_counted(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    token = await signup("xena@example.com")
    before = await db.fetchval("SELECT password_hash FROM identity.users")
    response = await client.post(
        "/users/me/password",
        headers=auth(token),
        json={"current_password": "not my password", "new_password": NEW},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "password is incorrect"
    assert "www-authenticate" not in response.headers  # the token itself is fine
    assert await db.fetchval("SELECT password_hash FROM identity.users") == before
    assert await db.fetchval("SELECT failures FROM identity.login_throttle") == 1
    # The token still works: a typo does not sign anyone out.
    assert (await client.get("/users/me", headers=auth(token))).status_code == 200


async def test_password_guessing_through_this_endpoint_is_throttled(
    client: httpx.AsyncClient, signup: Login
) -> None:
    """A stolen access token must not turn this endpoint into a password oracle."""
    token = await signup("yan@example.com")
    for n in range(10):
        response = await client.post(
            "/users/me/password",
            headers=auth(token),
            json={"current_password": f"guess {n}", "new_password": NEW},
        )
        assert response.status_code == 401
    blocked = await client.post(
        "/users/me/password",
        headers=auth(token),
        json={"current_password": PASSWORD, "new_password": NEW},
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    # The same counter guards the login of that account.
    assert (await login(client, "yan@example.com", PASSWORD)).status_code == 429


async def test_new_password_follows_the_registration_rules(
    client: httpx.AsyncClient, signup: Login
) -> None:
    token = await signup("zoe@example.com")
    for body in (
        {"current_password": PASSWORD, "new_password": "short"},
        {"current_password": PASSWORD, "new_password": "p" * 257},
        {"current_password": PASSWORD},
        {"new_password": NEW},
        {"current_password": PASSWORD, "new_password": NEW, "role": "admin"},
    ):
        response = await client.post("/users/me/password", headers=auth(token), json=body)
        assert response.status_code == 422, body
        assert PASSWORD not in response.text
    assert (await login(client, "zoe@example.com", PASSWORD)).status_code == 200


async def test_change_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users/me/password", json={"current_password": PASSWORD, "new_password": NEW}
    )
    assert response.status_code == 401
