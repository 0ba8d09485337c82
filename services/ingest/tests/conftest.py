"""Fixtures of the ingest tests: a migrated schema, a clean slate per test, the app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.db import SCHEMA
from aurora_ingest.main import SPEC
from aurora_shared.config import asyncpg_url
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.service import running_app, truncate_schema
from aurora_shared.testing.tokens import TestIssuer


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return SPEC


@pytest.fixture
def settings(migrated: str, redis_url: str) -> IngestSettings:
    return IngestSettings(database_url=migrated, redis_url=redis_url)


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
