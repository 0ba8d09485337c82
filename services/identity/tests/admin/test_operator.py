"""`aurora users set-role`: the operator's way to make the first admin."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from aurora_identity.admin.service import operator_set_role
from aurora_identity.config import IdentitySettings
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.errors import ProblemError

Login = Callable[[str], Awaitable[str]]


async def test_operator_promotes_revokes_announces_and_audits(
    client: httpx.AsyncClient,
    signup: Login,
    db: asyncpg.Connection,
    redis: Redis,
    settings: IdentitySettings,
) -> None:
    token = await signup("first.admin@example.com")
    await db.execute("DELETE FROM identity.outbox")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            user = await operator_set_role(
                session, redis, settings, email=" First.Admin@example.com ", role="admin"
            )
    finally:
        await engine.dispose()
    assert user.role == "admin"
    assert await db.fetchval("SELECT role FROM identity.users WHERE id = $1", user.id) == "admin"
    # The old token carried the old role.
    me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    event = await db.fetchrow("SELECT envelope FROM identity.outbox")
    assert event is not None
    assert json.loads(event["envelope"])["payload"] == {"user_id": str(user.id), "role": "admin"}
    audit = await db.fetchrow(
        "SELECT actor_id, actor_role, subject_email, details FROM identity.audit_log "
        "WHERE action = 'user.role_changed'"
    )
    assert audit is not None
    assert audit["actor_id"] is None  # the system, not a user
    assert audit["subject_email"] == "first.admin@example.com"
    assert json.loads(audit["details"]) == {"from": "athlete", "to": "admin", "by": "operator"}


async def test_operator_gets_a_clear_error_for_an_unknown_account(
    client: httpx.AsyncClient, redis: Redis, settings: IdentitySettings
) -> None:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            with pytest.raises(ProblemError) as info:
                await operator_set_role(
                    session, redis, settings, email="ghost@example.com", role="admin"
                )
    finally:
        await engine.dispose()
    assert info.value.status == 404
