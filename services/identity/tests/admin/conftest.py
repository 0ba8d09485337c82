"""Admins exist only by promotion in the database (or by another admin): made here so."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

Login = Callable[..., Awaitable[str]]
MakeUser = Callable[[str, str], Awaitable[str]]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_user(signup: Login, db: asyncpg.Connection) -> MakeUser:
    """Registers `email`, sets its role directly, then logs in again for a token with it."""

    async def run(email: str, role: str) -> str:
        await signup(email)
        await db.execute("UPDATE identity.users SET role = $1 WHERE email = $2", role, email)
        return await signup(email)

    return run
