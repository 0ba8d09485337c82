"""Checklist 27: per-account login back-off, held in PostgreSQL, identical for unknown emails."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from redis.asyncio import Redis

from ..conftest import throttle_key

PASSWORD = "correct horse battery staple"
WRONG = "wrong password!"
Login = Callable[[str], Awaitable[str]]


async def login(
    client: httpx.AsyncClient, email: str, password: str, ip: str = "198.51.100.1"
) -> httpx.Response:
    # The forwarded address changes per attempt in some tests: the count is per account.
    return await client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": ip},
    )


async def test_eleventh_failure_from_rotating_ips_gets_429_with_retry_after(
    client: httpx.AsyncClient, signup: Login
) -> None:
    await signup("ivy@example.com")
    for n in range(10):
        response = await login(client, "ivy@example.com", WRONG, ip=f"203.0.113.{n}")
        assert response.status_code == 401, n
    blocked = await login(client, "ivy@example.com", WRONG, ip="192.0.2.77")
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    retry_after = int(blocked.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert blocked.json()["detail"] == "too many failed attempts; try again later"
    # The right password does not get past the block either.
    right = await login(client, "ivy@example.com", PASSWORD)
    assert right.status_code == 429


async def test_unknown_email_is_throttled_identically(
    client: httpx.AsyncClient, signup: Login
) -> None:
    await signup("jack@example.com")
    for email in ("jack@example.com", "ghost@example.com"):
        for _ in range(10):
            assert (await login(client, email, WRONG)).status_code == 401
    known = await login(client, "jack@example.com", WRONG)
    unknown = await login(client, "ghost@example.com", WRONG)
    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content
    # Both blocks last a minute from their own tenth failure (a second or so apart here).
    assert 50 <= int(known.headers["retry-after"]) <= 60
    assert 50 <= int(unknown.headers["retry-after"]) <= 60
    assert set(known.headers) == set(unknown.headers)


async def test_counts_live_in_postgres_by_email_digest_and_survive_redis_loss(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection, redis: Redis
) -> None:
    await signup("kim@example.com")
    for _ in range(10):
        await login(client, " KIM@example.com", WRONG)
    rows = await db.fetch("SELECT * FROM identity.login_throttle")
    assert len(rows) == 1
    assert rows[0]["email_key"] == await throttle_key(db, "kim@example.com")
    # Keyed: the plain digest of the address, which anyone can compute, is not the key.
    assert rows[0]["email_key"] != hashlib.sha256(b"kim@example.com").hexdigest()
    assert rows[0]["failures"] == 10
    assert rows[0]["blocked_until"] is not None
    stored = " ".join(str(v) for row in rows for v in row.values())
    assert "kim" not in stored
    # A Redis restart without persistence loses everything in it; the block stays.
    await redis.flushdb()
    assert (await login(client, "kim@example.com", WRONG)).status_code == 429


async def test_block_is_temporary_and_a_success_resets(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("lena@example.com")
    for _ in range(10):
        await login(client, "lena@example.com", WRONG)
    assert (await login(client, "lena@example.com", PASSWORD)).status_code == 429
    # Time passes: the block ends (moved into the past rather than slept through).
    await db.execute(
        "UPDATE identity.login_throttle SET blocked_until = now() - interval '1 second'"
    )
    ok = await login(client, "lena@example.com", PASSWORD)
    assert ok.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM identity.login_throttle") == 0
    # The slate is clean: nine more failures are still only 401s.
    for _ in range(9):
        assert (await login(client, "lena@example.com", WRONG)).status_code == 401


async def test_failing_again_after_a_block_doubles_it(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("max@example.com")
    for _ in range(10):
        await login(client, "max@example.com", WRONG)
    await db.execute(
        "UPDATE identity.login_throttle SET blocked_until = now() - interval '1 second'"
    )
    before = datetime.now(UTC)
    assert (await login(client, "max@example.com", WRONG)).status_code == 401
    blocked_until = await db.fetchval("SELECT blocked_until FROM identity.login_throttle")
    assert timedelta(seconds=119) <= blocked_until - before <= timedelta(seconds=121)
    again = await login(client, "max@example.com", WRONG)
    assert again.status_code == 429
    assert 60 < int(again.headers["retry-after"]) <= 120


async def test_parallel_guesses_cannot_slip_past_the_count(
    client: httpx.AsyncClient, signup: Login
) -> None:
    await signup("nina@example.com")
    responses = await asyncio.gather(
        *(login(client, "nina@example.com", f"{WRONG}{n}") for n in range(14))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 10 + [429] * 4


async def test_throttle_of_one_account_leaves_others_alone(
    client: httpx.AsyncClient, signup: Login
) -> None:
    await signup("oscar@example.com")
    for _ in range(11):
        await login(client, "victim-of-spray@example.com", WRONG)
    assert (await login(client, "oscar@example.com", PASSWORD)).status_code == 200
