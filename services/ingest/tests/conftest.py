"""Fixtures of the ingest tests: a migrated schema, a clean slate per test, the app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.db import SCHEMA
from aurora_ingest.main import SPEC

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit
from aurora_shared.config import asyncpg_url
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.service import running_app, truncate_schema
from aurora_shared.testing.tokens import TestIssuer


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return SPEC


# A fixed, test-only Fernet key (never used outside tests).
TEST_FERNET_KEY = "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OTA="


@pytest.fixture
def settings(migrated: str, redis_url: str) -> IngestSettings:
    return IngestSettings(
        database_url=migrated,
        redis_url=redis_url,
        token_keys=SecretStr(TEST_FERNET_KEY),
        state_secret=SecretStr("state-secret"),
        public_base_url="https://aurora.test",
        strava_client_id="1234",
        strava_client_secret=SecretStr("s3cr3t"),
        strava_verify_token=SecretStr("verify-me"),
        strava_subscription_id=120475,
        whoop_client_id="whoop-client",
        whoop_client_secret=SecretStr("whoop-secret"),
    )


@pytest.fixture
async def kit(settings: IngestSettings, redis: Redis) -> AsyncIterator[ProviderKit]:
    """A provider kit on the test database and Redis; respx intercepts its HTTP clients."""
    from aurora_ingest.providers.kit import ProviderKit

    await truncate_schema(settings.database_url, SCHEMA)
    engine = make_engine(settings.database_url, pool_size=5)
    kit = ProviderKit.build(settings, make_sessionmaker(engine), redis)
    try:
        yield kit
    finally:
        await kit.aclose()
        await engine.dispose()


@pytest.fixture
async def client(
    settings: IngestSettings, issuer: TestIssuer, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_schema(settings.database_url, SCHEMA)
    async with running_app(create_app(settings, issuer.key_source())) as http:
        yield http


@pytest.fixture
async def db(settings: IngestSettings) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to look at rows behind the API's back."""
    conn = await asyncpg.connect(asyncpg_url(settings.database_url))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def alice(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(uuid.uuid4())


@pytest.fixture
def bob(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(uuid.uuid4())
