"""POST /auth/register: one answer for new and taken emails, an event only for new ones."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import httpx
import pytest

EXPECTED_BODY = {
    "status": "accepted",
    "detail": "If the address could be registered, you can now sign in.",
}

PASSWORD = "correct horse battery staple"


async def test_register_stores_normalised_email_and_emits_user_registered(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "  Alice@Example.COM ", "password": PASSWORD}
    )
    assert response.status_code == 202
    assert response.json() == EXPECTED_BODY

    user = await db.fetchrow("SELECT * FROM identity.users")
    assert user["email"] == "alice@example.com"
    assert user["role"] == "athlete"
    assert user["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in user["password_hash"]

    rows = await db.fetch("SELECT * FROM identity.outbox")
    assert len(rows) == 1
    row = rows[0]
    assert row["stream"] == "identity.events"
    assert row["event_type"] == "user.registered"
    assert row["user_id"] == user["id"]
    envelope = json.loads(row["envelope"])
    assert envelope["type"] == "user.registered"
    assert envelope["producer"] == "identity"
    assert envelope["version"] == 1
    assert envelope["user_id"] == str(user["id"])
    assert envelope["payload"] == {"user_id": str(user["id"]), "role": "athlete"}
    assert uuid.UUID(envelope["id"]) == row["event_id"]


async def test_duplicate_register_looks_identical_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await client.post(
        "/auth/register", json={"email": "bob@example.com", "password": PASSWORD}
    )
    before = await db.fetchrow("SELECT * FROM identity.users")
    second = await client.post(
        "/auth/register", json={"email": " BOB@example.com", "password": "another password 123"}
    )
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second.headers["content-type"] == first.headers["content-type"]

    assert await db.fetch("SELECT * FROM identity.users") == [before]
    assert await db.fetchval("SELECT count(*) FROM identity.outbox") == 1
    # The original password still works; the would-be takeover's does not.
    ok = await client.post("/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    assert ok.status_code == 200
    taken = await client.post(
        "/auth/login", json={"email": "bob@example.com", "password": "another password 123"}
    )
    assert taken.status_code == 401


async def test_register_cannot_choose_a_role(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    response = await client.post(
        "/auth/register",
        json={"email": "mallory@example.com", "password": PASSWORD, "role": "admin"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["body", "role"]
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
    assert await db.fetchval("SELECT count(*) FROM identity.outbox") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@b", "password": PASSWORD}, "email"),
        ({"email": "x" * 400 + "@example.com", "password": PASSWORD}, "email"),
        ({"email": "carol@example.com", "password": "short-pw1"}, "password"),
        ({"email": "carol@example.com", "password": "p" * 257}, "password"),
        ({"email": "carol@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": 12, "password": PASSWORD}, "email"),
    ],
)
async def test_bad_input_is_a_422_problem_without_the_password(
    client: httpx.AsyncClient, db: asyncpg.Connection, body: dict[str, object], field: str
) -> None:
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert [e["loc"] for e in problem["errors"]] == [["body", field]]
    password = body.get("password")
    if isinstance(password, str):
        assert password not in response.text
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0


async def test_password_of_exactly_ten_characters_is_enough(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"email": "dave@example.com", "password": "0123456789"}
    )
    assert response.status_code == 202


async def test_concurrent_registrations_of_one_email_create_one_user(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/auth/register", json={"email": "race@example.com", "password": f"{PASSWORD}{n}"}
            )
            for n in range(5)
        )
    )
    assert {(r.status_code, r.content) for r in responses} == {(202, responses[0].content)}
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 1
    assert await db.fetchval("SELECT count(*) FROM identity.outbox") == 1
