"""POST /admin/users/{id}/deactivate and /reactivate: a suspension blocks sign-in and every
token at once, here and in any other service verifying with the shared kit, and audits."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Depends
from redis.asyncio import Redis

from aurora_identity.audit import actions
from aurora_identity.config import IdentitySettings
from aurora_shared.access import principal_dependency
from aurora_shared.auth import Principal, StaticKeys
from aurora_shared.config import ServiceSettings
from aurora_shared.revocation import user_key
from aurora_shared.service import build_app
from aurora_shared.testing.service import running_app

from .conftest import PASSWORD, MakeUser


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _nobody_blocked(*_: object) -> bool:
    return False


# What every other service's routes use: the shared principal dependency (module level,
# so that FastAPI can resolve the postponed annotation).
_guard = principal_dependency(_nobody_blocked)
_probe_router = APIRouter()


@_probe_router.get("/probe")
async def _probe(caller: Annotated[Principal, Depends(_guard)]) -> dict[str, str]:
    return {"user_id": str(caller.user_id)}


@pytest.fixture
async def other_service(
    client: httpx.AsyncClient, settings: IdentitySettings, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """Another service: verifies identity's tokens with its JWKS and reads the same Redis."""
    jwks = (await client.get("/.well-known/jwks.json")).json()
    probe = build_app(
        ServiceSettings(
            service_name="probe",
            database_url=settings.database_url,
            redis_url=settings.redis_url,
        ),
        title="probe",
        description="another service",
        routers=[_probe_router],
        key_source=StaticKeys(jwks),
    )
    async with running_app(probe) as http:
        yield http


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def _user(client: httpx.AsyncClient, db: asyncpg.Connection, email: str) -> uuid.UUID:
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 202
    found: uuid.UUID = await db.fetchval("SELECT id FROM identity.users WHERE email = $1", email)
    return found


async def test_deactivation_blocks_everywhere_at_once_and_reactivation_restores(
    client: httpx.AsyncClient,
    other_service: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Connection,
    redis: Redis,
) -> None:
    admin = await make_user("root@example.com", "admin")
    target = await _user(client, db, "suspect@example.com")
    tokens = (await _login(client, "suspect@example.com")).json()
    access = tokens["access_token"]
    assert (await client.get("/users/me", headers=auth(access))).status_code == 200
    assert (await other_service.get("/probe", headers=auth(access))).status_code == 200
    await db.execute("DELETE FROM identity.outbox")

    answer = await client.post(f"/admin/users/{target}/deactivate", headers=auth(admin))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"id", "email", "role", "deactivated_at"}
    assert (body["id"], body["email"], body["role"]) == (
        str(target),
        "suspect@example.com",
        "athlete",
    )
    assert body["deactivated_at"] is not None
    assert await db.fetchval("SELECT deactivated_at FROM identity.users WHERE id = $1", target)

    # Every token is dead at once, here and in the other service; refresh is refused.
    assert (await client.get("/users/me", headers=auth(access))).status_code == 401
    assert (await other_service.get("/probe", headers=auth(access))).status_code == 401
    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    assert await redis.get(user_key(target)) is not None

    # Sign-in fails exactly as a wrong password does: same status, same body.
    with_right_password = await _login(client, "suspect@example.com")
    await _user(client, db, "bystander@example.com")
    wrong_password = await _login(client, "bystander@example.com", "not the password!")
    assert with_right_password.status_code == wrong_password.status_code == 401
    assert with_right_password.content == wrong_password.content
    assert set(with_right_password.headers) == set(wrong_password.headers)

    # Audited and announced.
    [entry] = await db.fetch(
        "SELECT * FROM identity.audit_log WHERE action = $1", actions.USER_DEACTIVATED
    )
    assert entry["subject_user_id"] == target
    assert entry["actor_role"] == "admin"
    assert entry["actor_email"] == "root@example.com"
    [event] = await db.fetch("SELECT * FROM identity.outbox WHERE event_type = 'user.deactivated'")
    envelope = json.loads(event["envelope"])
    assert envelope["user_id"] == str(target)
    assert envelope["payload"]["user_id"] == str(target)
    assert "deactivated_at" in envelope["payload"]

    # Reactivation: a new sign-in works everywhere; the old token stays dead.
    back = await client.post(f"/admin/users/{target}/reactivate", headers=auth(admin))
    assert back.status_code == 200, back.text
    assert back.json()["deactivated_at"] is None
    fresh = await _login(client, "suspect@example.com")
    assert fresh.status_code == 200, fresh.text
    new_access = fresh.json()["access_token"]
    assert (await client.get("/users/me", headers=auth(new_access))).status_code == 200
    assert (await other_service.get("/probe", headers=auth(new_access))).status_code == 200
    assert (await other_service.get("/probe", headers=auth(access))).status_code == 401
    assert await db.fetchval(
        "SELECT count(*) FROM identity.audit_log WHERE action = $1", actions.USER_REACTIVATED
    )
    assert await db.fetchval(
        "SELECT count(*) FROM identity.outbox WHERE event_type = 'user.reactivated'"
    )


async def test_both_are_idempotent(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Connection
) -> None:
    admin = await make_user("root@example.com", "admin")
    target = await _user(client, db, "twice@example.com")
    for _ in range(2):
        answer = await client.post(f"/admin/users/{target}/deactivate", headers=auth(admin))
        assert answer.status_code == 200
    for _ in range(2):
        answer = await client.post(f"/admin/users/{target}/reactivate", headers=auth(admin))
        assert answer.status_code == 200
    counts = await db.fetch(
        "SELECT action, count(*) AS n FROM identity.audit_log WHERE subject_user_id = $1"
        " AND action IN ($2, $3) GROUP BY action",
        target,
        actions.USER_DEACTIVATED,
        actions.USER_REACTIVATED,
    )
    assert {r["action"]: r["n"] for r in counts} == {
        actions.USER_DEACTIVATED: 1,
        actions.USER_REACTIVATED: 1,
    }
    types = await db.fetch(
        "SELECT event_type FROM identity.outbox WHERE event_type LIKE 'user.%activated'"
    )
    assert sorted(r["event_type"] for r in types) == ["user.deactivated", "user.reactivated"]


@pytest.mark.parametrize("verb", ["deactivate", "reactivate"])
async def test_only_admins_and_never_on_themselves(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Connection, verb: str
) -> None:
    admin = await make_user("root@example.com", "admin")
    root = await db.fetchval("SELECT id FROM identity.users WHERE email = 'root@example.com'")
    coach = await make_user("coach@example.com", "coach")
    target = await _user(client, db, "target@example.com")
    for token in (coach,):
        for who in (str(target), str(uuid.uuid4()), "not-a-uuid"):
            refused = await client.post(f"/admin/users/{who}/{verb}", headers=auth(token))
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.post(f"/admin/users/{target}/{verb}")).status_code == 401
    own = await client.post(f"/admin/users/{root}/{verb}", headers=auth(admin))
    assert own.status_code == 403
    assert (
        await db.fetchval("SELECT deactivated_at FROM identity.users WHERE id = $1", root) is None
    )
    assert (
        await db.fetchval("SELECT deactivated_at FROM identity.users WHERE id = $1", target) is None
    )


@pytest.mark.parametrize("verb", ["deactivate", "reactivate"])
async def test_unknown_deleted_or_malformed_targets(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Connection, verb: str
) -> None:
    admin = await make_user("root@example.com", "admin")
    missing = await client.post(f"/admin/users/{uuid.uuid4()}/{verb}", headers=auth(admin))
    assert missing.status_code == 404
    gone = await _user(client, db, "gone@example.com")
    await db.execute("UPDATE identity.users SET deleted_at = now() WHERE id = $1", gone)
    deleted = await client.post(f"/admin/users/{gone}/{verb}", headers=auth(admin))
    assert deleted.status_code == 404
    assert {**deleted.json(), "instance": None} == {**missing.json(), "instance": None}
    malformed = await client.post(f"/admin/users/not-a-uuid/{verb}", headers=auth(admin))
    assert malformed.status_code == 422


async def test_a_deactivated_admin_loses_admin_rights_at_once(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Connection
) -> None:
    first = await make_user("first@example.com", "admin")
    second = await make_user("second@example.com", "admin")
    second_id = await db.fetchval(
        "SELECT id FROM identity.users WHERE email = 'second@example.com'"
    )
    target = await _user(client, db, "target@example.com")
    answer = await client.post(f"/admin/users/{second_id}/deactivate", headers=auth(first))
    assert answer.status_code == 200
    refused = await client.post(f"/admin/users/{target}/deactivate", headers=auth(second))
    assert refused.status_code == 401
