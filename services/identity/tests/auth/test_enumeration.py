"""Checklists 28 and 29: login never tells whether an email exists, not even by its
timing, and stored hashes use Argon2id at OWASP's minimum parameters or above."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from aurora_identity.auth.passwords import Passwords
from aurora_identity.config import IdentitySettings

PASSWORD = "correct horse battery staple"
WRONG = "wrong password!"
Login = Callable[[str], Awaitable[str]]
ARGON2_HASH = re.compile(
    r"^\$argon2id\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"
)


async def median_ratio(client: httpx.AsyncClient, db: asyncpg.Connection, tries: int = 15) -> float:
    """median(unknown email) / median(wrong password), over interleaved tries."""

    async def timed(email: str) -> float:
        started = time.perf_counter()
        response = await client.post("/auth/login", json={"email": email, "password": WRONG})
        elapsed = time.perf_counter() - started
        assert response.status_code == 401
        return elapsed

    for _ in range(3):  # warm-up: connection pool, thread pool, caches
        await timed("paula@example.com")
        await timed("nobody@example.com")
    known: list[float] = []
    unknown: list[float] = []
    for n in range(tries):
        # Stay under the failure limit: timing, not throttling, is under test here.
        await db.execute("DELETE FROM identity.login_throttle")
        if n % 2:
            known.append(await timed("paula@example.com"))
            unknown.append(await timed("nobody@example.com"))
        else:
            unknown.append(await timed("nobody@example.com"))
            known.append(await timed("paula@example.com"))
    return statistics.median(unknown) / statistics.median(known)


async def test_wrong_password_and_unknown_email_take_the_same_time(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    """Medians within ±20% over 15 tries each. A leak is systematic and fails every
    round; a shared, loaded test machine may spoil one round, so up to three are run."""
    await signup("paula@example.com")
    ratios = []
    for _ in range(3):
        ratios.append(await median_ratio(client, db))
        if 0.8 <= ratios[-1] <= 1.2:
            break
    assert 0.8 <= ratios[-1] <= 1.2, ratios


async def test_the_timing_test_detects_a_missing_dummy_verification(
    client: httpx.AsyncClient,
    signup: Login,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Control: without the dummy Argon2 run for unknown emails the ratio collapses."""
    await signup("paula@example.com")

    async def skip(self: Passwords, password: str) -> None:
        return None

    monkeypatch.setattr(Passwords, "verify_dummy", skip)
    assert await median_ratio(client, db, tries=7) < 0.8


def header_set(response: httpx.Response) -> dict[str, str]:
    """Headers other than the per-request id and the clock."""
    return {k: v for k, v in response.headers.items() if k not in {"x-request-id", "date"}}


async def test_refusals_are_identical_for_known_and_unknown_emails(
    client: httpx.AsyncClient, signup: Login
) -> None:
    await signup("quinn@example.com")
    known = await client.post("/auth/login", json={"email": "quinn@example.com", "password": WRONG})
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": WRONG}
    )
    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content
    assert header_set(known) == header_set(unknown)


def argon2_params(stored: str) -> tuple[int, int, int]:
    match = ARGON2_HASH.match(stored)
    assert match, stored
    return int(match["m"]), int(match["t"]), int(match["p"])


async def test_stored_hashes_use_argon2id_at_owasp_minimum_or_stronger(
    client: httpx.AsyncClient, signup: Login, db: asyncpg.Connection
) -> None:
    await signup("sam@example.com")
    stored = await db.fetchval("SELECT password_hash FROM identity.users")
    m, t, p = argon2_params(stored)
    assert m >= 19_456
    assert t >= 2
    assert p >= 1


@pytest.mark.parametrize(
    "weaker",
    [{"argon2_memory_kib": 19_455}, {"argon2_time_cost": 1}, {"argon2_parallelism": 0}],
)
def test_settings_refuse_parameters_below_the_owasp_minimum(
    weaker: dict[str, int], migrated: str, redis_url: str
) -> None:
    with pytest.raises(ValidationError):
        IdentitySettings(database_url=migrated, redis_url=redis_url, **weaker)  # type: ignore[arg-type]
