"""Re-applying the erasure log after a restore (checklist item 48): users that a backup
brings back are erased again, every erasure since the backup is announced again for the
other services, and doing it twice is harmless."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_identity.audit import actions
from aurora_identity.gdpr.restore import Reapplied, reapply_erasures
from aurora_shared.db import make_sessionmaker

from .test_purge import Login, deleted_user, purge, purged_events


async def backup(db: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The rows of the user a backup taken now would hold."""
    return {
        table: [
            dict(r)
            for r in await db.fetch(f"SELECT * FROM identity.{table} WHERE {col} = $1", user_id)
        ]
        for table, col in (("users", "id"), ("refresh_tokens", "user_id"))
    }


async def restore(db: asyncpg.Connection, saved: dict[str, list[dict[str, Any]]]) -> None:
    for table in ("users", "refresh_tokens"):  # parents first
        for row in saved[table]:
            columns = ", ".join(row)
            marks = ", ".join(f"${n}" for n in range(1, len(row) + 1))
            await db.execute(
                f"INSERT INTO identity.{table} ({columns}) VALUES ({marks})", *row.values()
            )


async def reapply(engine: AsyncEngine, since: datetime) -> Reapplied:
    async with make_sessionmaker(engine)() as session, session.begin():
        return await reapply_erasures(session, since)


async def test_a_restored_user_is_erased_again_and_announced_again(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, engine: AsyncEngine
) -> None:
    victim = await deleted_user(client, signup, db, "restored@example.com", days_ago=31)
    bystander = await signup("stays@example.com")
    assert bystander
    backup_taken = datetime.now(UTC)
    saved = await backup(db, victim)
    assert saved["users"] and saved["refresh_tokens"]

    assert await purge(engine) == [victim]
    await db.execute("DELETE FROM identity.outbox")
    await restore(db, saved)  # the backup is restored: the user is back
    assert await db.fetchval("SELECT count(*) FROM identity.users WHERE id = $1", victim) == 1

    done = await reapply(engine, backup_taken)
    assert list(done.announced) == [victim] and list(done.restored) == [victim]
    for table, column in (("users", "id"), ("refresh_tokens", "user_id")):
        assert (
            await db.fetchval(f"SELECT count(*) FROM identity.{table} WHERE {column} = $1", victim)
            == 0
        ), table
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 1  # the bystander
    [event] = await purged_events(db)
    assert event["payload"] == {"user_id": str(victim)}
    rows = await db.fetch(
        "SELECT subject_email, details FROM identity.audit_log WHERE action = $1 ORDER BY id",
        actions.USER_PURGED,
    )
    assert [r["subject_email"] for r in rows] == ["restored@example.com"] * 2
    assert json.loads(rows[-1]["details"]) == {"reapplied_after_restore": True}

    # Idempotent: nothing left to delete, the announcement repeats (consumers erase nothing).
    again = await reapply(engine, backup_taken)
    assert list(again.announced) == [victim] and list(again.restored) == []
    assert len(await purged_events(db)) == 2
    assert (
        await db.fetchval(
            "SELECT count(*) FROM identity.audit_log WHERE action = $1", actions.USER_PURGED
        )
        == 2
    )


async def test_only_erasures_since_the_backup_are_reapplied(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, engine: AsyncEngine
) -> None:
    victim = await deleted_user(client, signup, db, "old@example.com", days_ago=31)
    assert await purge(engine) == [victim]
    await db.execute("DELETE FROM identity.outbox")
    later = datetime.now(UTC) + timedelta(seconds=1)
    done = await reapply(engine, later)
    assert list(done.announced) == [] and list(done.restored) == []
    assert await purged_events(db) == []
