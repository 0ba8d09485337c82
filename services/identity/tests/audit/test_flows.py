"""Identity's own flows leave audit rows: driven over HTTP, read back from the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_identity.audit import actions
from aurora_identity.gdpr.purge import purge_expired_accounts
from aurora_shared.db import make_sessionmaker

from ..conftest import PASSWORD, MakeAccount


async def rows(db: asyncpg.Connection, action: str) -> list[dict[str, Any]]:
    found = await db.fetch("SELECT * FROM identity.audit_log WHERE action = $1 ORDER BY id", action)
    result = []
    for row in found:
        entry = dict(row)
        entry["details"] = json.loads(entry["details"])
        # The password appears nowhere in the row, in any column.
        assert PASSWORD not in json.dumps(entry, default=str)
        result.append(entry)
    return result


async def register(client: httpx.AsyncClient, email: str) -> None:
    answer = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 202, answer.text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_registration_audits_new_accounts_only(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await register(client, "new@example.com")
    await register(client, "new@example.com")  # taken: nothing new happened
    user_id = await db.fetchval("SELECT id FROM identity.users WHERE email = 'new@example.com'")
    [entry] = await rows(db, actions.USER_REGISTERED)
    assert entry["actor_id"] == user_id
    assert entry["subject_user_id"] == user_id
    assert entry["subject_email"] == "new@example.com"


async def test_login_success_and_failures_are_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await register(client, "who@example.com")
    user_id = await db.fetchval("SELECT id FROM identity.users WHERE email = 'who@example.com'")
    assert (await login(client, "who@example.com")).status_code == 200
    assert (await login(client, "who@example.com", "not the password")).status_code == 401
    assert (await login(client, "ghost@example.com", PASSWORD)).status_code == 401

    [success] = await rows(db, actions.LOGIN_SUCCEEDED)
    assert success["actor_id"] == user_id
    assert success["subject_user_id"] == user_id

    wrong, unknown = await rows(db, actions.LOGIN_FAILED)
    for entry in (wrong, unknown):
        assert entry["actor_id"] is None
        assert entry["actor_role"] == actions.ANONYMOUS_ROLE
        assert "example.com" not in json.dumps(entry["details"])
    assert wrong["subject_user_id"] == user_id
    assert wrong["details"] == {"reason": "wrong_password"}
    assert unknown["subject_user_id"] is None
    assert unknown["subject_email"] is None
    assert unknown["details"] == {"reason": "unknown_account"}


async def test_logout_and_refresh_reuse_are_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await register(client, "sess@example.com")
    user_id = await db.fetchval("SELECT id FROM identity.users WHERE email = 'sess@example.com'")

    first = (await login(client, "sess@example.com")).json()
    sid = jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    [logout] = await rows(db, actions.LOGOUT)
    assert logout["actor_id"] == user_id
    assert logout["subject_user_id"] == user_id
    assert logout["details"] == {"session_id": sid}

    second = (await login(client, "sess@example.com")).json()
    refresh = {"refresh_token": second["refresh_token"]}
    assert (await client.post("/auth/refresh", json=refresh)).status_code == 200
    # Within the race window a second use is only refused; after it, it is a replay.
    assert (await client.post("/auth/refresh", json=refresh)).status_code == 401
    assert await rows(db, actions.REFRESH_REUSE_DETECTED) == []
    await db.execute(
        "UPDATE identity.refresh_tokens SET used_at = used_at - interval '1 minute'"
        " WHERE used_at IS NOT NULL"
    )
    assert (await client.post("/auth/refresh", json=refresh)).status_code == 401
    [reuse] = await rows(db, actions.REFRESH_REUSE_DETECTED)
    family = jwt.decode(second["access_token"], options={"verify_signature": False})["sid"]
    assert reuse["actor_id"] is None
    assert reuse["actor_role"] == actions.ANONYMOUS_ROLE
    assert reuse["subject_user_id"] == user_id
    assert reuse["details"] == {"family_id": family}
    assert second["refresh_token"] not in json.dumps(reuse, default=str)


async def test_admin_role_change_is_audited_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, account: MakeAccount
) -> None:
    admin = await account("boss@example.com", "admin")
    target = await account("pupil@example.com")
    path = f"/admin/users/{target.id}/role"
    answer = await client.patch(path, headers=admin.headers, json={"role": "coach"})
    assert answer.status_code == 200, answer.text
    # The same role again changes nothing and records nothing.
    again = await client.patch(path, headers=admin.headers, json={"role": "coach"})
    assert again.status_code == 200, again.text
    [entry] = await rows(db, actions.ROLE_CHANGED)
    assert entry["actor_id"] == admin.id
    assert entry["actor_role"] == "admin"
    assert entry["subject_user_id"] == target.id
    assert entry["details"] == {"from": "athlete", "to": "coach", "by": "admin"}


async def test_key_rotation_is_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, account: MakeAccount
) -> None:
    admin = await account("keys@example.com", "admin")
    answer = await client.post("/auth/keys/rotate", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    [entry] = await rows(db, actions.KEYS_ROTATED)
    assert entry["actor_id"] == admin.id
    body = answer.json()
    assert entry["details"] == {
        "kid": body["kid"],
        "next_kid": body["next_kid"],
        "emergency": False,
    }


async def test_export_deletion_and_purge_are_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, account: MakeAccount, engine: AsyncEngine
) -> None:
    user = await account("leaving@example.com")
    exported = await client.get("/users/me/export", headers=user.headers)
    assert exported.status_code == 200, exported.text
    [export] = await rows(db, actions.USER_EXPORTED)
    assert export["actor_id"] == user.id
    assert export["subject_user_id"] == user.id
    archive = exported.json()
    assert export["details"] == {
        "complete": archive["complete"],
        "services": {name: part["status"] for name, part in archive["services"].items()},
    }

    deleted = await client.request(
        "DELETE", "/users/me", headers=user.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 202, deleted.text
    [deletion] = await rows(db, actions.USER_DELETED)
    assert deletion["actor_id"] == user.id
    assert deletion["subject_user_id"] == user.id

    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        later = datetime.now(UTC) + timedelta(days=365)
        purged = await purge_expired_accounts(session, later, timedelta(days=30))
    assert purged == [user.id]
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
    [purge] = await rows(db, actions.USER_PURGED)
    assert purge["actor_id"] is None
    assert purge["actor_role"] == actions.SYSTEM_ROLE
    assert purge["subject_user_id"] == user.id
    assert purge["subject_email"] == "leaving@example.com"
