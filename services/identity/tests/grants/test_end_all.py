"""`end_all_for_user`: what deletion, deactivation and role changes call to close grants."""

from __future__ import annotations

import json
import uuid

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.grants import service
from aurora_identity.users.models import User
from aurora_shared.auth import Principal

Sessions = async_sessionmaker[AsyncSession]


async def _user(db: asyncpg.Connection, email: str, role: str) -> Principal:
    user_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO identity.users (id, email, password_hash, role) VALUES ($1, $2, 'x', $3)",
        user_id,
        email,
        role,
    )
    return Principal(user_id=user_id, role=role, claims={})


async def test_every_open_grant_of_a_coach_is_revoked_with_events(
    sessions: Sessions, db: asyncpg.Connection
) -> None:
    coach = await _user(db, "carl@example.com", "coach")
    admin = await _user(db, "root@example.com", "admin")
    athletes = [await _user(db, f"a{i}@example.com", "athlete") for i in range(3)]
    async with sessions() as session, session.begin():
        for athlete in athletes:
            await service.initiate(
                session, athlete, "invitation", email=None, user_id=coach.user_id, scopes=["read"]
            )
    [first, second, third] = await db.fetch(
        "SELECT id, athlete_id FROM identity.grants ORDER BY created_at, id"
    )
    async with sessions() as session, session.begin():
        await service.act(session, coach, first["id"], "accept")
        await service.act(session, coach, second["id"], "decline")

    async with sessions() as session, session.begin():
        actor = await session.get(User, admin.user_id)
        assert await service.end_all_for_user(session, coach.user_id, actor=actor) == 2

    statuses = await db.fetch("SELECT id, status, revoked_by FROM identity.grants")
    by_id = {r["id"]: (r["status"], r["revoked_by"]) for r in statuses}
    assert by_id[first["id"]] == ("revoked", admin.user_id)
    assert by_id[second["id"]] == ("declined", coach.user_id)
    assert by_id[third["id"]] == ("revoked", admin.user_id)
    envelopes = await db.fetch(
        "SELECT envelope FROM identity.outbox WHERE event_type = 'grant.changed' ORDER BY id"
    )
    last_two = [json.loads(r["envelope"])["payload"] for r in envelopes[-2:]]
    assert {p["grant_id"] for p in last_two} == {str(first["id"]), str(third["id"])}
    assert all(p["active"] is False and p["status"] == "revoked" for p in last_two)
    revoked_rows = await db.fetchval(
        "SELECT count(*) FROM identity.audit_log WHERE action = 'grant.revoked' AND actor_id = $1",
        admin.user_id,
    )
    assert revoked_rows == 2

    async with sessions() as session, session.begin():
        assert await service.end_all_for_user(session, coach.user_id) == 0


async def test_purging_a_user_removes_their_grants_but_not_the_audit_trail(
    sessions: Sessions, db: asyncpg.Connection
) -> None:
    coach = await _user(db, "carl@example.com", "coach")
    athlete = await _user(db, "ann@example.com", "athlete")
    async with sessions() as session, session.begin():
        await service.initiate(
            session, coach, "request", email="ann@example.com", user_id=None, scopes=["phases"]
        )
    await db.execute("DELETE FROM identity.users WHERE id = $1", athlete.user_id)
    assert await db.fetchval("SELECT count(*) FROM identity.grants") == 0
    row = await db.fetchrow("SELECT * FROM identity.audit_log WHERE action = 'grant.requested'")
    assert row is not None
    assert row["subject_user_id"] == athlete.user_id
    assert row["subject_email"] == "ann@example.com"
