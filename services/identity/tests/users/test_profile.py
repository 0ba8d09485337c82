"""PATCH /users/me: the profile fields, and nothing else (checklist 38)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

Login = Callable[[str], Awaitable[str]]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_patch_sets_and_returns_the_profile(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    token = await signup("pat@example.com")
    response = await client.patch(
        "/users/me",
        headers=auth(token),
        json={
            "display_name": "  Pat Runner ",
            "birth_date": "1990-04-01",
            "sex": "female",
            "time_zone": "Europe/Zurich",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Pat Runner"
    assert body["birth_date"] == "1990-04-01"
    assert body["sex"] == "female"
    assert body["time_zone"] == "Europe/Zurich"
    assert "password_hash" not in body
    row = await db.fetchrow("SELECT * FROM identity.users")
    assert (row["display_name"], row["birth_date"], row["sex"], row["time_zone"]) == (
        "Pat Runner",
        date(1990, 4, 1),
        "female",
        "Europe/Zurich",
    )
    me = await client.get("/users/me", headers=auth(token))
    assert me.json() == body


async def test_patch_changes_only_the_fields_sent_and_null_clears(
    client: httpx.AsyncClient, signup: Login
) -> None:
    token = await signup("quentin@example.com")
    await client.patch("/users/me", headers=auth(token), json={"display_name": "Q", "sex": "male"})
    response = await client.patch(
        "/users/me", headers=auth(token), json={"time_zone": "Asia/Tokyo", "sex": None}
    )
    body = response.json()
    assert body["display_name"] == "Q"
    assert body["sex"] is None
    assert body["time_zone"] == "Asia/Tokyo"
    empty = await client.patch("/users/me", headers=auth(token), json={})
    assert empty.status_code == 200
    assert empty.json() == body


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"role": "admin", "deleted_at": None},
        {"deleted_at": None},
        {"email": "other@example.com"},
        {"password_hash": "x"},
        {"id": "00000000-0000-0000-0000-000000000000"},
        {"display_name": "ok", "is_admin": True},
    ],
)
async def test_patch_refuses_fields_that_are_not_the_profile(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, body: dict[str, object]
) -> None:
    token = await signup("rex@example.com")
    before = await db.fetchrow("SELECT * FROM identity.users")
    response = await client.patch("/users/me", headers=auth(token), json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await db.fetchrow("SELECT * FROM identity.users") == before


def tomorrow() -> str:
    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"birth_date": "1899-12-31"}, "birth_date"),
        ({"birth_date": "not a date"}, "birth_date"),
        ({"sex": "unknown"}, "sex"),
        ({"sex": "FEMALE"}, "sex"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": "a\u202eb"}, "display_name"),
        ({"display_name": 42}, "display_name"),
    ],
)
async def test_patch_validates_each_field(
    client: httpx.AsyncClient, signup: Login, body: dict[str, object], field: str
) -> None:
    token = await signup("sue@example.com")
    response = await client.patch("/users/me", headers=auth(token), json=body)
    assert response.status_code == 422
    assert {tuple(e["loc"][:2]) for e in response.json()["errors"]} == {("body", field)}


async def test_birth_date_in_the_future_is_refused(
    client: httpx.AsyncClient, signup: Login
) -> None:
    token = await signup("tom@example.com")
    response = await client.patch("/users/me", headers=auth(token), json={"birth_date": tomorrow()})
    assert response.status_code == 422
    today = datetime.now(UTC).date().isoformat()
    ok = await client.patch("/users/me", headers=auth(token), json={"birth_date": today})
    assert ok.status_code == 200


async def test_patch_needs_a_token_and_an_active_account(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    assert (await client.patch("/users/me", json={"sex": "other"})).status_code == 401
    token = await signup("uma@example.com")
    await db.execute("UPDATE identity.users SET deactivated_at = now()")
    response = await client.patch("/users/me", headers=auth(token), json={"sex": "other"})
    assert response.status_code == 401
    assert await db.fetchval("SELECT sex FROM identity.users") is None


async def test_deactivated_account_cannot_sign_in_and_looks_unknown(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("vera@example.com")
    await db.execute("UPDATE identity.users SET deactivated_at = now()")
    password = "correct horse battery staple"
    deactivated = await client.post(
        "/auth/login", json={"email": "vera@example.com", "password": password}
    )
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": password}
    )
    assert deactivated.status_code == unknown.status_code == 401
    assert deactivated.content == unknown.content
