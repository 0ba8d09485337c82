"""POST /auth/login: a token for the right password, one identical 401 for everything else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from argon2 import PasswordHasher

PASSWORD = "correct horse battery staple"
Login = Callable[[str], Awaitable[str]]


async def test_login_returns_a_bearer_token(client: httpx.AsyncClient, signup: Login) -> None:
    await signup("erin@example.com")
    response = await client.post(
        "/auth/login", json={"email": " ERIN@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["refresh_expires_in"] == 30 * 86_400
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    me = await client.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "erin@example.com"


async def test_wrong_password_and_unknown_email_are_indistinguishable(
    client: httpx.AsyncClient, signup: Login
) -> None:
    await signup("frank@example.com")
    wrong = await client.post(
        "/auth/login", json={"email": "frank@example.com", "password": "wrong password!"}
    )
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "wrong password!"}
    )
    malformed = await client.post(
        "/auth/login", json={"email": "not an email", "password": "wrong password!"}
    )
    assert wrong.status_code == unknown.status_code == malformed.status_code == 401
    assert wrong.content == unknown.content == malformed.content
    assert wrong.headers["content-type"] == unknown.headers["content-type"]
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == "invalid email or password"


async def test_soft_deleted_user_cannot_log_in(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("gina@example.com")
    await db.execute("UPDATE identity.users SET deleted_at = now()")
    deleted = await client.post(
        "/auth/login", json={"email": "gina@example.com", "password": PASSWORD}
    )
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert deleted.status_code == 401
    assert deleted.content == unknown.content


async def test_login_rejects_extra_fields_and_oversized_password(client: httpx.AsyncClient) -> None:
    extra = await client.post(
        "/auth/login", json={"email": "a@example.com", "password": "x" * 12, "role": "admin"}
    )
    assert extra.status_code == 422
    huge = await client.post("/auth/login", json={"email": "a@example.com", "password": "x" * 257})
    assert huge.status_code == 422


async def test_weaker_hash_is_upgraded_on_login(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("hank@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await db.execute("UPDATE identity.users SET password_hash = $1", weak)
    response = await client.post(
        "/auth/login", json={"email": "hank@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    stored = await db.fetchval("SELECT password_hash FROM identity.users")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
