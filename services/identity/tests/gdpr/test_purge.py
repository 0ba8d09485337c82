"""The purge: accounts past the grace period are erased from identity, audit aside."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_identity.config import IdentitySettings
from aurora_identity.gdpr.purge import purge_expired_accounts
from aurora_identity.tasks import purge_once
from aurora_shared.db import make_sessionmaker

from ..conftest import throttle_key

PASSWORD = "correct horse battery staple"
GRACE = timedelta(days=30)
Login = Callable[[str], Awaitable[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def deleted_user(
    client: httpx.AsyncClient,
    signup: Login,
    db: asyncpg.Connection,
    email: str,
    days_ago: float,
) -> uuid.UUID:
    """An account deleted through the API, then aged by moving `deleted_at` back."""
    token = await signup(email)
    response = await client.request(
        "DELETE", "/users/me", headers=auth(token), json={"password": PASSWORD}
    )
    assert response.status_code == 202
    user_id: uuid.UUID = await db.fetchval(
        "UPDATE identity.users SET deleted_at = now() - make_interval(secs => $2) "
        "WHERE email = $1 RETURNING id",
        email,
        days_ago * 86_400,
    )
    return user_id


async def purge(engine: AsyncEngine, now: datetime | None = None) -> list[uuid.UUID]:
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        return await purge_expired_accounts(session, now or datetime.now(UTC), GRACE)


async def purged_events(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT envelope FROM identity.outbox WHERE event_type = 'user.purged' ORDER BY id"
    )
    return [json.loads(r["envelope"]) for r in rows]


async def identity_tables_mentioning(db: asyncpg.Connection, needle: str) -> set[str]:
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'identity' "
        "AND tablename <> 'alembic_version'"
    )
    found = set()
    for t in tables:
        name = t["tablename"]
        hits = await db.fetchval(
            f'SELECT count(*) FROM identity."{name}" AS r WHERE r::text LIKE $1', f"%{needle}%"
        )
        if hits:
            found.add(name)
    return found


async def test_expired_account_is_erased_except_its_audit_trail(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, engine: AsyncEngine
) -> None:
    coach_token = await signup("coach@example.com")
    coach_id = await db.fetchval("SELECT id FROM identity.users WHERE email = 'coach@example.com'")
    email = "leaving@example.com"
    # Throttle counters under the address (failed logins), before the account goes.
    await signup(email)
    for _ in range(2):
        await client.post("/auth/login", json={"email": email, "password": "wrong password!"})
    victim = await deleted_user(client, signup, db, email, days_ago=31)
    await db.execute(
        "INSERT INTO identity.grants (id, athlete_id, coach_id, scopes, status, initiated_by) "
        "VALUES ($1, $2, $3, ARRAY['read'], 'active', $2)",
        uuid.uuid4(),
        victim,
        coach_id,
    )
    await db.execute(
        "INSERT INTO identity.export_requests (user_id, requested_at) VALUES ($1, now())", victim
    )
    await db.execute(
        "INSERT INTO identity.audit_log (actor_id, actor_email, actor_role, action, "
        "subject_user_id, subject_email) VALUES ($1, $2, 'athlete', 'user.deleted', $1, $2)",
        victim,
        email,
    )
    await db.execute(
        "INSERT INTO identity.login_throttle (email_key, failures, window_started_at) "
        "VALUES ($1, 3, now())",
        await throttle_key(db, email),
    )
    assert await db.fetchval(
        "SELECT count(*) FROM identity.refresh_tokens WHERE user_id = $1", victim
    )

    assert await purge(engine) == [victim]

    assert await db.fetchval("SELECT count(*) FROM identity.users WHERE id = $1", victim) == 0
    for table, column in (
        ("refresh_tokens", "user_id"),
        ("grants", "athlete_id"),
        ("export_requests", "user_id"),
    ):
        count = await db.fetchval(
            f"SELECT count(*) FROM identity.{table} WHERE {column} = $1", victim
        )
        assert count == 0, table
    assert await db.fetchval("SELECT count(*) FROM identity.login_throttle") == 0
    # The audit trail keeps its snapshots; the email survives nowhere else.
    audit = await db.fetchrow("SELECT * FROM identity.audit_log WHERE subject_user_id = $1", victim)
    assert audit["subject_email"] == email
    assert await identity_tables_mentioning(db, email) == {"audit_log"}
    # The id remains in the audit log, in events (the outbox keeps published rows for
    # its retention window, then the reconciler deletes them) and in the short-lived
    # revocation row that keeps the user's last tokens dead until they expire.
    assert await identity_tables_mentioning(db, str(victim)) <= {
        "audit_log",
        "outbox",
        "revocations",
    }
    events = await purged_events(db)
    assert [e["payload"] for e in events] == [{"user_id": str(victim)}]
    assert events[0]["user_id"] == str(victim)
    assert events[0]["producer"] == "identity"
    # The coach is untouched, and the address is free to register anew.
    assert (await client.get("/users/me", headers=auth(coach_token))).status_code == 200
    again = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert again.status_code == 202
    assert await db.fetchval("SELECT count(*) FROM identity.users WHERE email = $1", email) == 1


async def test_accounts_within_the_grace_period_or_not_deleted_stay(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, engine: AsyncEngine
) -> None:
    await signup("active@example.com")
    recent = await deleted_user(client, signup, db, "recent@example.com", days_ago=29)
    assert await purge(engine) == []
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 2
    assert await purged_events(db) == []
    # Thirty days after the deletion, it goes.
    deleted_at = await db.fetchval("SELECT deleted_at FROM identity.users WHERE id = $1", recent)
    assert await purge(engine, now=deleted_at + GRACE - timedelta(seconds=1)) == []
    assert await purge(engine, now=deleted_at + GRACE) == [recent]


async def test_user_purged_is_emitted_once_even_with_parallel_runs(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, engine: AsyncEngine
) -> None:
    victims = {
        await deleted_user(client, signup, db, f"old{n}@example.com", days_ago=40) for n in range(6)
    }
    sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)

    async def run() -> list[uuid.UUID]:
        async with sessions() as session, session.begin():
            purged = await purge_expired_accounts(session, datetime.now(UTC), GRACE, limit=3)
            await asyncio.sleep(0.2)  # hold the locks while the other run looks
            return purged

    first, second = await asyncio.gather(run(), run())
    assert not set(first) & set(second)
    assert set(first) | set(second) == victims
    assert await purge(engine) == []  # nothing left, nothing announced twice
    events = await purged_events(db)
    assert sorted(e["payload"]["user_id"] for e in events) == sorted(str(v) for v in victims)


async def test_the_job_purges_in_batches_until_done(
    client: httpx.AsyncClient,
    signup: Login,
    db: asyncpg.Connection,
    engine: AsyncEngine,
    settings: IdentitySettings,
) -> None:
    for n in range(5):
        await deleted_user(client, signup, db, f"batch{n}@example.com", days_ago=31)
    await signup("stays@example.com")
    # A stale throttle row (an unknown address tried weeks ago) is pruned too.
    await db.execute(
        "INSERT INTO identity.login_throttle (email_key, failures, window_started_at) "
        "VALUES ('stale', 3, now() - interval '2 days')"
    )
    batched = settings.model_copy(update={"purge_batch_size": 2})
    assert await purge_once(make_sessionmaker(engine), batched) == 5
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 1
    assert len(await purged_events(db)) == 5
    assert await db.fetchval("SELECT count(*) FROM identity.login_throttle") == 0
    assert await purge_once(make_sessionmaker(engine), batched) == 0
