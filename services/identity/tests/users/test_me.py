"""GET /users/me: the holder's own account, and nothing for a deleted one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import httpx

from aurora_shared.testing.tokens import TestIssuer

Login = Callable[[str], Awaitable[str]]


async def test_me_returns_the_account_without_secrets(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    token = await signup("Mona@Example.com")
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id",
        "email",
        "role",
        "display_name",
        "birth_date",
        "sex",
        "time_zone",
        "created_at",
    }
    row = await db.fetchrow("SELECT * FROM identity.users")
    assert body["id"] == str(row["id"])
    assert body["email"] == "mona@example.com"
    assert body["role"] == "athlete"
    assert body["display_name"] is None
    assert body["birth_date"] is body["sex"] is body["time_zone"] is None
    assert datetime.fromisoformat(body["created_at"]) == row["created_at"]
    assert "argon2" not in response.text


async def test_me_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    missing = await client.get("/users/me")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    garbage = await client.get("/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert garbage.status_code == 401


async def test_token_from_a_foreign_key_is_refused(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("nick@example.com")
    user_id = await db.fetchval("SELECT id FROM identity.users")
    forged = TestIssuer().headers(user_id)
    response = await client.get("/users/me", headers=forged)
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown signing key"


async def test_token_stops_working_after_soft_delete(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    token = await signup("olga@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/users/me", headers=headers)).status_code == 200
    await db.execute("UPDATE identity.users SET deleted_at = now()")
    response = await client.get("/users/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "account is not active"
