"""Fixtures of the cross-service security tests: every service's app, running, side by side.

Root-level tests may import every service (a service never imports another).
Identity runs with its own key table; the other three trust the session's test
issuer, as in their own tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis

from aurora_shared.revocation import READY_KEY
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

from .stack import (
    SERVICES,
    Target,
    make_app,
    settings_for,
    spec,
    trusted_from_identity,
    trusted_from_issuer,
)


@pytest.fixture(scope="session")
def all_migrated(database_url: str) -> str:
    for service in SERVICES:
        spec(service).migrate(database_url)
    return database_url


@pytest.fixture
async def ready(redis: Redis) -> Redis:
    """The revocation cache is complete (identity would seed it; nothing is revoked here)."""
    await redis.set(READY_KEY, "1")
    return redis


@pytest.fixture(scope="module")
async def targets(
    all_migrated: str, redis_url: str, issuer: TestIssuer
) -> AsyncIterator[dict[str, Target]]:
    started: dict[str, Target] = {}
    async with AsyncExitStack() as stack:
        for service in SERVICES:
            app = make_app(service, settings_for(service, all_migrated, redis_url), issuer)
            client = await stack.enter_async_context(running_app(app))
            if service == "identity":
                trusted = await trusted_from_identity(client, all_migrated)
            else:
                trusted = trusted_from_issuer(issuer)
            started[service] = Target(service, app, client, trusted)
        yield started
