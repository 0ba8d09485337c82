"""pytest plugin shared by every package's tests: real PostgreSQL and real Redis.

With DATABASE_URL / REDIS_URL set, those servers are used (a fresh database is
created per session, and the Redis database given is flushed between tests, so
never point it at a Redis you care about). Unset, embedded servers from PyPI
packages are started for the session and stopped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from aurora_shared.bus.runtime import make_redis
from aurora_shared.config import asyncpg_url


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
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url(server_urls: tuple[str, str]) -> str:
    return server_urls[1]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    await client.flushdb()
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
