"""Fixtures of the session tests: the identity app itself (to reach its runtime), and a
login that returns the whole token answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from aurora_identity.app import create_app
from aurora_identity.config import IdentitySettings
from aurora_identity.db import SCHEMA
from aurora_shared.testing.service import running_app, truncate_schema

PASSWORD = "correct horse battery staple"

Tokens = dict[str, Any]
Login = Callable[..., Awaitable[Tokens]]


@dataclass
class Identity:
    app: FastAPI
    http: httpx.AsyncClient

    async def me(self, access_token: str) -> httpx.Response:
        return await self.http.get("/users/me", headers=bearer(access_token))

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.http.post("/auth/refresh", json={"refresh_token": refresh_token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def age_used_tokens(db: asyncpg.Connection, seconds: float = 60.0) -> None:
    """Moves every use of a refresh token into the past, beyond the race grace window:
    a later presentation is then a replay, without the test sleeping."""
    await db.execute(
        "UPDATE identity.refresh_tokens SET used_at = used_at - make_interval(secs => $1)"
        " WHERE used_at IS NOT NULL",
        seconds,
    )


@pytest.fixture
async def identity(settings: IdentitySettings, redis: Redis) -> AsyncIterator[Identity]:
    await truncate_schema(settings.database_url, SCHEMA)
    app = create_app(settings)
    async with running_app(app) as http:
        yield Identity(app, http)


@pytest.fixture
def login(identity: Identity) -> Login:
    """Registers the address (a no-op if taken) and logs in; returns the token answer."""

    async def run(email: str | None = None, password: str = PASSWORD) -> Tokens:
        email = email or f"s-{uuid.uuid4().hex[:10]}@example.com"
        registered = await identity.http.post(
            "/auth/register", json={"email": email, "password": password}
        )
        assert registered.status_code == 202, registered.text
        answer = await identity.http.post(
            "/auth/login", json={"email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        body: Tokens = answer.json()
        return body

    return run
