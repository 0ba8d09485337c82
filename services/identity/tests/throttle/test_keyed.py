"""The throttle's account keys are HMACs under a server secret (configured, or identity's
own random one kept in its database), so the table cannot be dictionary-attacked."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from pydantic import SecretStr, ValidationError

from aurora_identity.app import create_app
from aurora_identity.config import IdentitySettings
from aurora_identity.db import SCHEMA
from aurora_identity.throttle import service as throttle
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.testing.service import running_app, truncate_schema

from ..conftest import throttle_key

CONFIGURED = "a configured secret of at least thirty-two characters"


async def _fail_login(client: httpx.AsyncClient, email: str) -> None:
    answer = await client.post("/auth/login", json={"email": email, "password": "x" * 12})
    assert answer.status_code == 401


@pytest.fixture
async def configured_client(
    settings: IdentitySettings,
) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_schema(settings.database_url, SCHEMA)
    keyed = settings.model_copy(update={"login_throttle_secret": SecretStr(CONFIGURED)})
    async with running_app(create_app(keyed)) as http:
        yield http


async def test_a_configured_secret_keys_the_rows_and_nothing_is_stored(
    configured_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await _fail_login(configured_client, "ann@example.com")
    key = await db.fetchval("SELECT email_key FROM identity.login_throttle")
    expected = hmac.new(CONFIGURED.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
    assert key == expected
    assert await db.fetchval("SELECT count(*) FROM identity.server_secrets") == 0


async def test_without_configuration_one_random_secret_is_made_and_kept(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: IdentitySettings
) -> None:
    assert await db.fetchval("SELECT count(*) FROM identity.server_secrets") == 0
    await _fail_login(client, "bob@example.com")
    secret = await db.fetchval("SELECT value FROM identity.server_secrets")
    assert len(secret) == throttle.SECRET_BYTES
    assert await db.fetchval("SELECT email_key FROM identity.login_throttle") == (
        await throttle_key(db, "bob@example.com")
    )
    # A restarted (or another) replica counts on the same row.
    async with running_app(create_app(settings)) as other:
        await _fail_login(other, "bob@example.com")
    assert await db.fetchval("SELECT failures FROM identity.login_throttle") == 2
    assert await db.fetchval("SELECT count(*) FROM identity.server_secrets") == 1


async def test_replicas_racing_to_create_the_secret_agree_on_one(
    settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    await truncate_schema(settings.database_url, SCHEMA)
    engine = make_engine(settings.database_url, pool_size=6)
    sessions = make_sessionmaker(engine)

    async def one() -> bytes:
        async with sessions() as session, session.begin():
            return await throttle.key_secret(session, SecretStr(""))

    try:
        secrets = await asyncio.gather(*(one() for _ in range(6)))
    finally:
        await engine.dispose()
    assert len(set(secrets)) == 1
    assert await db.fetchval("SELECT value FROM identity.server_secrets") == secrets[0]


@pytest.mark.parametrize("short", ["x", "y" * 31])
def test_a_short_configured_secret_is_refused(settings: IdentitySettings, short: str) -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        IdentitySettings(
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            login_throttle_secret=SecretStr(short),
        )
    assert (
        IdentitySettings(
            database_url=settings.database_url, redis_url=settings.redis_url
        ).login_throttle_secret.get_secret_value()
        == ""
    )


async def test_the_purge_forgets_counters_keyed_with_the_configured_secret(
    configured_client: httpx.AsyncClient, settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    from aurora_identity.tasks import purge_once

    email = "leaving@example.com"
    password = "correct horse battery staple"
    registered = await configured_client.post(
        "/auth/register", json={"email": email, "password": password}
    )
    assert registered.status_code == 202
    await _fail_login(configured_client, email)
    assert await db.fetchval("SELECT count(*) FROM identity.login_throttle") == 1
    await db.execute(
        "UPDATE identity.users SET deleted_at = now() - interval '31 days' WHERE email = $1", email
    )
    keyed = settings.model_copy(update={"login_throttle_secret": SecretStr(CONFIGURED)})
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        assert await purge_once(make_sessionmaker(engine), keyed) == 1
    finally:
        await engine.dispose()
    assert await db.fetchval("SELECT count(*) FROM identity.login_throttle") == 0
