"""GET /audit: admins only (403 for everyone else), filters, keyset paging, audited reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from ..conftest import Account, MakeAccount

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def admin(account: MakeAccount) -> Account:
    return await account("root@example.com", "admin")


async def _seed(db: asyncpg.Connection, people: list[uuid.UUID]) -> None:
    """Twelve rows an hour apart, cycling through actions, actors and subjects."""
    for i in range(12):
        await db.execute(
            "INSERT INTO identity.audit_log "
            "(at, actor_id, actor_role, action, subject_user_id, details) "
            "VALUES ($1, $2, 'athlete', $3, $4, $5)",
            T0 + timedelta(hours=i),
            people[i % 2],
            f"test.{('alpha', 'beta', 'gamma')[i % 3]}",
            people[(i + 1) % 2],
            f'{{"i": {i}}}',
        )


async def _ids(db: asyncpg.Connection, where: str = "TRUE", *args: Any) -> list[int]:
    rows = await db.fetch(
        f"SELECT id FROM identity.audit_log WHERE {where} ORDER BY id DESC",
        *args,
    )
    return [r["id"] for r in rows]


async def test_only_admins_may_read_the_log(
    client: httpx.AsyncClient, account: MakeAccount, db: asyncpg.Connection
) -> None:
    athlete = await account("ann@example.com")
    coach = await account("carl@example.com", "coach")
    before = await db.fetchval("SELECT count(*) FROM identity.audit_log")
    for who in (athlete, coach):
        response = await client.get("/audit", headers=who.headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 403
    assert (await client.get("/audit")).status_code == 401
    # A refused read shows nothing and records nothing.
    assert await db.fetchval("SELECT count(*) FROM identity.audit_log") == before


async def test_a_token_claiming_admin_is_not_enough(
    client: httpx.AsyncClient, account: MakeAccount, db: asyncpg.Connection
) -> None:
    """The role is read from the account: demoting an admin closes the log at once."""
    former = await account("former@example.com", "admin")
    assert (await client.get("/audit", headers=former.headers)).status_code == 200
    await db.execute("UPDATE identity.users SET role = 'athlete' WHERE id = $1", former.id)
    assert (await client.get("/audit", headers=former.headers)).status_code in (401, 403)


async def test_newest_first_with_every_filter(
    client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection
) -> None:
    people = [uuid.uuid4(), uuid.uuid4()]
    await _seed(db, people)

    async def ids(**params: Any) -> list[int]:
        response = await client.get("/audit", headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    everything = await _ids(db)  # before the read adds its own row
    assert await ids(limit=500) == everything
    assert await ids(actor_id=str(people[0])) == await _ids(db, "actor_id = $1", people[0])
    assert await ids(subject_user_id=str(people[0])) == await _ids(
        db, "subject_user_id = $1", people[0]
    )
    assert await ids(action="test.beta") == await _ids(db, "action = 'test.beta'")
    window = await ids(**{"from": (T0 + timedelta(hours=3)).isoformat(), "to": "2026-05-01T18:00"})
    assert window == await _ids(
        db, "at >= $1 AND at < $2", T0 + timedelta(hours=3), T0 + timedelta(hours=6)
    )
    assert len(window) == 3
    combined = await ids(actor_id=str(people[1]), action="test.alpha")
    assert combined == await _ids(db, "actor_id = $1 AND action = 'test.alpha'", people[1])
    assert combined  # i = 3 and i = 9
    assert await ids(action="no.such.action") == []


async def test_pages_follow_the_cursor_without_gaps_or_repeats(
    client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection
) -> None:
    await _seed(db, [uuid.uuid4(), uuid.uuid4()])
    expected = await _ids(db, "action LIKE 'test.%'")
    seen: list[int] = []
    cursor: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor is not None:
            params["cursor"] = cursor
        body = (await client.get("/audit", headers=admin.headers, params=params)).json()
        seen += [item["id"] for item in body["items"] if item["action"].startswith("test.")]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_entries_carry_snapshots_and_no_more(
    client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO identity.audit_log (actor_id, actor_email, actor_role, action, "
        "subject_user_id, subject_email, resource, details, request_id) VALUES "
        "($1, 'root@example.com', 'admin', 'admin.read', $2, 'gone@example.com', "
        "'users/x', '{\"why\": \"support\"}', 'req-1')",
        admin.id,
        uuid.UUID(int=7),
    )
    body = (
        await client.get("/audit", headers=admin.headers, params={"action": "admin.read"})
    ).json()
    [item] = body["items"]
    assert item == {
        "id": item["id"],
        "at": item["at"],
        "actor_id": str(admin.id),
        "actor_email": "root@example.com",
        "actor_role": "admin",
        "action": "admin.read",
        "subject_user_id": str(uuid.UUID(int=7)),
        "subject_email": "gone@example.com",
        "resource": "users/x",
        "details": {"why": "support"},
        "request_id": "req-1",
        "service": "identity",
        "redacted": False,
    }
    assert body["next_cursor"] is None


async def test_reading_the_log_is_itself_audited(
    client: httpx.AsyncClient, admin: Account, db: asyncpg.Connection
) -> None:
    response = await client.get(
        "/audit",
        headers={**admin.headers, "X-Request-ID": "req-audit-read"},
        params={"action": "test.alpha", "limit": 7},
    )
    assert response.status_code == 200
    # The read's own row is written after the query: it is not in its own answer.
    assert response.json()["items"] == []
    row = await db.fetchrow("SELECT * FROM identity.audit_log WHERE action = 'audit.read'")
    assert row is not None
    assert row["actor_id"] == admin.id
    assert row["actor_email"] == "root@example.com"
    assert row["resource"] == "audit_log"
    assert row["request_id"] == "req-audit-read"
    assert row["details"] == '{"limit": 7, "filters": {"action": "test.alpha"}, "returned": 0}'


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": 10**6},
        {"cursor": 0},
        {"cursor": "abc"},
        {"actor_id": "not-a-uuid"},
        {"action": ""},
        {"action": "x" * 101},
        {"from": "yesterday"},
        {"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"},
        {"from": "0001-01-01T00:00:00+23:59"},
    ],
)
async def test_bad_queries_are_422(
    client: httpx.AsyncClient, admin: Account, params: dict[str, Any]
) -> None:
    response = await client.get("/audit", headers=admin.headers, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
