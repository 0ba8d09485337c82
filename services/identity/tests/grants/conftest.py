"""Accounts of a given role, signed in through the real register and login endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    headers: dict[str, str]


MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
def account(client: httpx.AsyncClient, db: asyncpg.Connection) -> MakeAccount:
    """Self-registration only makes athletes, so other roles are set in the table first."""

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
