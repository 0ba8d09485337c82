"""pytest plugin shared by every package's tests: real PostgreSQL and real Redis.

With DATABASE_URL / REDIS_URL set, those servers are used (a fresh database is
created per session, and the Redis database given is flushed between tests, so
never point it at a Redis you care about). Unset, embedded servers from PyPI
packages are started for the session and stopped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_shared.bus.runtime import make_redis
from aurora_shared.config import asyncpg_url
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.revocation import READY_KEY
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.service import truncate_schema
from aurora_shared.testing.tokens import TestIssuer


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db = os.environ.get("DATABASE_URL")
    rd = os.environ.get("REDIS_URL")
    started: list[object] = []
    if not db or not rd:
        from aurora_shared.embedded import EmbeddedPostgres, EmbeddedRedis

        base = tmp_path_factory.mktemp("servers")
        if not db:
            pg = EmbeddedPostgres(base / "pg")
            db = pg.start()
            started.append(pg)
        if not rd:
            redis_server = EmbeddedRedis(base / "redis")
            rd = redis_server.start()
            started.append(redis_server)
    try:
        yield db, rd
    finally:
        for server in reversed(started):
            server.stop()  # type: ignore[attr-defined]


def _with_database(url: str, database: str) -> str:
    head, _, tail = asyncpg_url(url).rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def database_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    admin_url = server_urls[0]
    name = f"aurora_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_url(admin_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin_url, name)
    finally:
        _drop_database(admin, name)


def _drop_database(admin: Callable[[str], Coroutine[Any, Any, None]], name: str) -> None:
    """Dropping the throwaway database is cleanup, not a test: the FORCE drop ends
    every session still on it, and a connection torn down under the admin call has
    been seen to fail it once in many runs, so it is retried, then only warned about."""
    for attempt in range(3):
        try:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            last = exc
            time.sleep(0.2 * (attempt + 1))
    warnings.warn(f"test database {name} was not dropped: {last!r}", stacklevel=1)


@pytest.fixture(scope="session")
def redis_url(server_urls: tuple[str, str]) -> str:
    return server_urls[1]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """The flushed test Redis, with the revocation cache marked complete (nothing revoked),
    as identity leaves it after seeding; tests of a lost cache delete READY_KEY."""
    client = make_redis(redis_url)
    await client.flushdb()
    await client.set(READY_KEY, "1")
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture(autouse=True)
def _service_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    """Service settings read DATABASE_URL / REDIS_URL; point them at the test servers."""
    if "database_url" in request.fixturenames:
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("database_url"))
    if "redis_url" in request.fixturenames:
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    yield


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "services").is_dir() and (parent / "shared").is_dir():
            return parent
    return Path.cwd()


# -- per-service fixtures; a service's conftest provides `service_spec` -----------------


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    """Mints tokens the service under test accepts (its key source is this issuer's)."""
    return TestIssuer()


_MIGRATED: set[tuple[str, str]] = set()


@pytest.fixture
def migrated(database_url: str, service_spec: ServiceSpec) -> str:
    """The session database with this service's schema at head (migrated once per service).

    Not session-scoped: `service_spec` differs per service directory, and a
    session fixture would be computed once for whichever service ran first.
    """
    key = (database_url, service_spec.name)
    if key not in _MIGRATED:
        service_spec.migrate(database_url)
        _MIGRATED.add(key)
    return database_url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # Durability is not under test; skipping the commit fsync keeps the
    # many-transaction property tests fast.
    eng = make_engine(
        database_url,
        pool_size=4,
        connect_args={"server_settings": {"synchronous_commit": "off"}},
    )
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def sessions(
    migrated: str, engine: AsyncEngine, service_spec: ServiceSpec
) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker over the service's emptied schema."""
    await truncate_schema(migrated, service_spec.schema)
    return make_sessionmaker(engine)
