"""Fixtures of the identity tests: a migrated schema, a clean slate per test, the app."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from aurora_identity.app import create_app
from aurora_identity.config import IdentitySettings
from aurora_identity.db import SCHEMA
from aurora_identity.main import SPEC
from aurora_shared.config import asyncpg_url
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.service import running_app, truncate_schema

PASSWORD = "correct horse battery staple"

Login = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return SPEC


@pytest.fixture
def settings(migrated: str, redis_url: str) -> IdentitySettings:
    return IdentitySettings(database_url=migrated, redis_url=redis_url)


@pytest.fixture
async def client(settings: IdentitySettings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_schema(settings.database_url, SCHEMA)
    async with running_app(create_app(settings)) as http:
        yield http


@pytest.fixture
async def db(settings: IdentitySettings) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to look at (or tamper with) rows behind the API's back."""
    conn = await asyncpg.connect(asyncpg_url(settings.database_url))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def signup(client: httpx.AsyncClient) -> Login:
    """Register and log in; returns the access token."""

    async def run(email: str, password: str = PASSWORD) -> str:
        registered = await client.post(
            "/auth/register", json={"email": email, "password": password}
        )
        assert registered.status_code == 202, registered.text
        login = await client.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        token: str = login.json()["access_token"]
        return token

    return run


async def throttle_key(db: asyncpg.Connection, email: str) -> str:
    """The login throttle's row key of `email` under identity's stored secret (the one in
    use when no secret is configured), as a test computes it independently."""
    secret = await db.fetchval(
        "SELECT value FROM identity.server_secrets WHERE name = 'login_throttle'"
    )
    assert secret is not None, "no throttle secret yet: no password was tried"
    return hmac.new(bytes(secret), email.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    headers: dict[str, str]


MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
def account(client: httpx.AsyncClient, db: asyncpg.Connection) -> MakeAccount:
    """Accounts of a given role, signed in through the real register and login endpoints.

    Self-registration only makes athletes, so other roles are set in the table first.
    """

    async def make(email: str, role: str = "athlete") -> Account:
        registered = await client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202, registered.text
        user_id = await db.fetchval(
            "UPDATE identity.users SET role = $2 WHERE email = $1 RETURNING id", email, role
        )
        login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        return Account(user_id, email, {"Authorization": f"Bearer {token}"})

    return make
