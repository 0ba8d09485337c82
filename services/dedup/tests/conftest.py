"""Fixtures of the dedup tests: a migrated schema, a clean slate per test, the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from aurora_dedup.app import create_app
from aurora_dedup.config import DedupSettings
from aurora_dedup.db import SCHEMA
from aurora_dedup.main import SPEC
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.service import running_app, truncate_schema
from aurora_shared.testing.tokens import TestIssuer


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return SPEC


@pytest.fixture
def settings(migrated: str, redis_url: str) -> DedupSettings:
    return DedupSettings(database_url=migrated, redis_url=redis_url)


@pytest.fixture
async def client(
    settings: DedupSettings, issuer: TestIssuer, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_schema(settings.database_url, SCHEMA)
    async with running_app(create_app(settings, issuer.key_source())) as http:
        yield http
