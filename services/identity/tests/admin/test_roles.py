"""PATCH /admin/users/{id}/role: only admins change roles, nobody their own (checklist 40)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

MakeUser = Callable[[str, str], Awaitable[str]]
Login = Callable[[str], Awaitable[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user_id(db: asyncpg.Connection, email: str) -> uuid.UUID:
    found: uuid.UUID = await db.fetchval("SELECT id FROM identity.users WHERE email = $1", email)
    return found


async def test_admin_changes_a_role_and_it_is_announced(
    client: httpx.AsyncClient, make_user: MakeUser, signup: Login, db: asyncpg.Connection
) -> None:
    admin = await make_user("root@example.com", "admin")
    athlete_token = await signup("coachable@example.com")
    target = await user_id(db, "coachable@example.com")
    await db.execute("DELETE FROM identity.outbox")

    response = await client.patch(
        f"/admin/users/{target}/role", headers=auth(admin), json={"role": "coach"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": str(target), "email": "coachable@example.com", "role": "coach"}
    assert await db.fetchval("SELECT role FROM identity.users WHERE id = $1", target) == "coach"

    rows = await db.fetch("SELECT * FROM identity.outbox WHERE event_type = 'user.role_changed'")
    assert len(rows) == 1
    envelope = json.loads(rows[0]["envelope"])
    assert envelope["payload"] == {"user_id": str(target), "role": "coach"}
    assert envelope["user_id"] == str(target)
    # The old token carried the old role: it is revoked; a new login carries the new one.
    assert (await client.get("/users/me", headers=auth(athlete_token))).status_code == 401
    fresh = await signup("coachable@example.com")
    me = await client.get("/users/me", headers=auth(fresh))
    assert me.json()["role"] == "coach"


async def test_setting_the_same_role_changes_nothing(
    client: httpx.AsyncClient, make_user: MakeUser, signup: Login, db: asyncpg.Connection
) -> None:
    admin = await make_user("root@example.com", "admin")
    token = await signup("same@example.com")
    target = await user_id(db, "same@example.com")
    await db.execute("DELETE FROM identity.outbox")
    response = await client.patch(
        f"/admin/users/{target}/role", headers=auth(admin), json={"role": "athlete"}
    )
    assert response.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM identity.outbox") == 0
    assert (await client.get("/users/me", headers=auth(token))).status_code == 200


@pytest.mark.parametrize("role", ["athlete", "coach"])
@pytest.mark.parametrize(
    "body", [{"role": "admin"}, {"role": "nonsense"}, {}, {"role": "admin", "extra": 1}]
)
async def test_non_admins_get_403_whatever_they_send(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Connection,
    role: str,
    body: dict[str, object],
) -> None:
    token = await make_user(f"{role}@example.com", role)
    me = await user_id(db, f"{role}@example.com")
    await db.execute("DELETE FROM identity.outbox")
    for target in (str(me), str(uuid.uuid4()), "not-a-uuid"):
        response = await client.patch(f"/admin/users/{target}/role", headers=auth(token), json=body)
        assert response.status_code == 403, (target, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert await db.fetchval("SELECT role FROM identity.users WHERE id = $1", me) == role
    assert await db.fetchval("SELECT count(*) FROM identity.outbox") == 0


async def test_admin_routes_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"/admin/users/{uuid.uuid4()}/role", json={"role": "admin"})
    assert response.status_code == 401


async def test_nobody_assigns_a_role_to_themselves(
    client: httpx.AsyncClient, make_user: MakeUser, signup: Login, db: asyncpg.Connection
) -> None:
    admin = await make_user("root@example.com", "admin")
    me = await user_id(db, "root@example.com")
    response = await client.patch(
        f"/admin/users/{me}/role", headers=auth(admin), json={"role": "athlete"}
    )
    assert response.status_code == 403
    assert await db.fetchval("SELECT role FROM identity.users WHERE id = $1", me) == "admin"
    # Nor can an athlete choose a role at registration or through the profile.
    registered = await client.post(
        "/auth/register",
        json={"email": "sneaky@example.com", "password": "long enough pw", "role": "admin"},
    )
    assert registered.status_code == 422
    token = await signup("plain@example.com")
    assert (
        await db.fetchval("SELECT role FROM identity.users WHERE email = 'plain@example.com'")
        == "athlete"
    )
    patched = await client.patch("/users/me", headers=auth(token), json={"role": "coach"})
    assert patched.status_code == 422


async def test_unknown_deleted_or_malformed_targets(
    client: httpx.AsyncClient, make_user: MakeUser, signup: Login, db: asyncpg.Connection
) -> None:
    admin = await make_user("root@example.com", "admin")
    missing = await client.patch(
        f"/admin/users/{uuid.uuid4()}/role", headers=auth(admin), json={"role": "coach"}
    )
    assert missing.status_code == 404
    await signup("gone@example.com")
    gone = await user_id(db, "gone@example.com")
    await db.execute("UPDATE identity.users SET deleted_at = now() WHERE id = $1", gone)
    deleted = await client.patch(
        f"/admin/users/{gone}/role", headers=auth(admin), json={"role": "coach"}
    )
    assert deleted.status_code == 404
    # Only `instance` (the requested path) differs between the two answers.
    assert {**deleted.json(), "instance": None} == {**missing.json(), "instance": None}
    bad_id = await client.patch(
        "/admin/users/not-a-uuid/role", headers=auth(admin), json={"role": "coach"}
    )
    assert bad_id.status_code == 422
    bad_role = await client.patch(
        f"/admin/users/{gone}/role", headers=auth(admin), json={"role": "root"}
    )
    assert bad_role.status_code == 422


async def test_a_demoted_admin_loses_admin_rights_at_once(
    client: httpx.AsyncClient, make_user: MakeUser, signup: Login, db: asyncpg.Connection
) -> None:
    """The role is read from the database, not trusted from the (15-minute) token."""
    admin = await make_user("fallen@example.com", "admin")
    await signup("someone@example.com")
    target = await user_id(db, "someone@example.com")
    await db.execute(
        "UPDATE identity.users SET role = 'athlete' WHERE email = 'fallen@example.com'"
    )
    response = await client.patch(
        f"/admin/users/{target}/role", headers=auth(admin), json={"role": "coach"}
    )
    assert response.status_code == 403
