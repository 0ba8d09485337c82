"""`record` and `record_now`: snapshots, refusal of secrets, and which transaction they join."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.audit import actions
from aurora_identity.audit.service import record, record_now, require_clean_details
from aurora_shared.errors import ProblemError
from aurora_shared.logging import request_id_var

Sessions = async_sessionmaker[AsyncSession]


async def _user(db: asyncpg.Connection, email: str, role: str = "athlete") -> uuid.UUID:
    user_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO identity.users (id, email, password_hash, role) VALUES ($1, $2, 'x', $3)",
        user_id,
        email,
        role,
    )
    return user_id


async def test_snapshots_outlive_the_purge_of_both_people(
    sessions: Sessions, db: asyncpg.Connection
) -> None:
    admin = await _user(db, "root@example.com", "admin")
    subject = await _user(db, "gone@example.com")
    token = request_id_var.set("req-42")
    try:
        async with sessions() as session, session.begin():
            entry_id = await record(
                session,
                action=actions.ADMIN_READ,
                actor_id=admin,
                actor_role="admin",
                subject_user_id=subject,
                resource="users/me",
                details={"user": subject, "when": datetime(2026, 1, 2, tzinfo=UTC)},
            )
    finally:
        request_id_var.reset(token)
    await db.execute("DELETE FROM identity.users")  # the purge: no FK holds it back

    row = await db.fetchrow("SELECT * FROM identity.audit_log WHERE id = $1", entry_id)
    assert row is not None
    assert (row["actor_id"], row["actor_email"], row["actor_role"]) == (
        admin,
        "root@example.com",
        "admin",
    )
    assert (row["subject_user_id"], row["subject_email"]) == (subject, "gone@example.com")
    assert row["action"] == "admin.read"
    assert row["request_id"] == "req-42"
    assert row["service"] == "identity"
    assert row["redacted"] is False
    assert row["details"] == f'{{"user": "{subject}", "when": "2026-01-02T00:00:00+00:00"}}'


async def test_without_an_actor_the_system_acted(
    sessions: Sessions, db: asyncpg.Connection
) -> None:
    async with sessions() as session, session.begin():
        await record(session, action=actions.USER_PURGED, subject_user_id=uuid.uuid4())
    row = await db.fetchrow("SELECT * FROM identity.audit_log")
    assert row is not None
    assert row["actor_id"] is None
    assert row["actor_role"] == "system"
    assert row["subject_email"] is None  # an unknown (already purged) user has no snapshot
    assert row["details"] == "{}"


@pytest.mark.parametrize(
    "details",
    [
        {"password": "hunter2"},
        {"attempt": {"accessToken": "abc"}},
        {"headers": [{"Authorization": "Bearer x"}]},
        {"provider": {"CLIENT-SECRET": "s"}},
    ],
)
async def test_secret_keys_are_a_programming_error(
    sessions: Sessions, db: asyncpg.Connection, details: dict[str, object]
) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="secret-like keys"):
            await record(session, action="test.event", details=details)
    assert await db.fetchval("SELECT count(*) FROM identity.audit_log") == 0


async def test_bad_actions_and_oversized_details_are_refused(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="action"):
            await record(session, action="")
        with pytest.raises(ValueError, match="action"):
            await record(session, action="x" * 101)
        with pytest.raises(ValueError, match="exceed"):
            await record(session, action="big", details={"blob": "x" * 70_000})
        with pytest.raises(ValueError, match="not JSON"):
            await record(session, action="odd", details={"what": object()})


def test_outside_details_with_secrets_are_a_422() -> None:
    require_clean_details({"reason": "ok", "nested": [{"id": 1}]})
    with pytest.raises(ProblemError) as caught:
        require_clean_details({"nested": [{"apiKey": "k"}]})
    assert caught.value.status == 422
    assert caught.value.extensions["secret_keys"] == ["nested[0].apiKey"]


async def test_record_joins_the_callers_transaction_and_record_now_does_not(
    sessions: Sessions, db: asyncpg.Connection
) -> None:
    async with sessions() as session:
        await record(session, action="rolled.back")
        await record_now(sessions, action=actions.LOGIN_FAILED, actor_role="anonymous")
        await session.rollback()
    actions_kept = await db.fetch("SELECT action, actor_role FROM identity.audit_log")
    assert [(r["action"], r["actor_role"]) for r in actions_kept] == [
        ("auth.login_failed", "anonymous")
    ]
