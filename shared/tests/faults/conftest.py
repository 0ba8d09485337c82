"""Fixtures for the fault tests: the bus schema, runner processes and private servers.

Servers that a test stops, kills or pauses are private (EmbeddedPostgres / EmbeddedRedis in
a temporary directory): the session's servers, possibly the machine's own, are never signalled.
Every process a test starts is killed by the fixture that started it, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.bus.tables import BusTables, bus_tables, notify_trigger_ddl
from aurora_shared.db import make_engine, make_sessionmaker, schema_metadata
from aurora_shared.embedded import EmbeddedPostgres, EmbeddedRedis

from .bus_runner import EVENT_TYPE, GROUP, SCHEMA, STREAM, bounded_redis

RUNNER = Path(__file__).with_name("bus_runner.py")


@dataclass
class FaultEnv:
    """The bus schema on one PostgreSQL; `url` is what runner processes connect to."""

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tables: BusTables
    effects: Table


def _metadata() -> MetaData:
    md = schema_metadata(SCHEMA)
    bus_tables(md)
    # No unique constraint on purpose: exactly-once is proven by counting, not enforced.
    Table(
        "effects",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("note", Text, nullable=True),
    )
    return md


@contextlib.asynccontextmanager
async def fault_env(url: str) -> AsyncIterator[FaultEnv]:
    """A fresh `bustest` schema on the database at `url`."""
    md = _metadata()
    engine = make_engine(url, pool_size=3)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            await conn.run_sync(md.create_all)
            for ddl in notify_trigger_ddl(SCHEMA):
                await conn.execute(text(ddl))
        yield FaultEnv(
            url,
            engine,
            make_sessionmaker(engine),
            bus_tables(schema_metadata(SCHEMA)),
            md.tables[f"{SCHEMA}.effects"],
        )
    finally:
        await engine.dispose()


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[FaultEnv]:
    async with fault_env(database_url) as e:
        yield e


# -- helpers on the schema ---------------------------------------------------------------


async def write_events(env: FaultEnv, n: int) -> list[Envelope]:
    events = [
        new_event(EVENT_TYPE, producer="faulttest", user_id=uuid.uuid4(), payload={"i": i})
        for i in range(n)
    ]
    async with env.sessionmaker() as session, session.begin():
        await enqueue(session, env.tables.outbox, STREAM, events)
    return events


async def relay_all(env: FaultEnv, redis: Redis) -> int:
    return await OutboxRelay(env.engine, redis, SCHEMA, service="faulttest").drain()


async def effect_counts(env: FaultEnv) -> dict[uuid.UUID, int]:
    async with env.engine.connect() as conn:
        rows = await conn.execute(
            select(env.effects.c.event_id, func.count()).group_by(env.effects.c.event_id)
        )
        return {r[0]: r[1] for r in rows}


async def effect_order(env: FaultEnv) -> list[uuid.UUID]:
    """Event ids in the order their effects were committed (serial ids)."""
    async with env.engine.connect() as conn:
        rows = await conn.execute(select(env.effects.c.event_id).order_by(env.effects.c.id))
        return [r[0] for r in rows]


async def inbox_ids(env: FaultEnv) -> set[uuid.UUID]:
    async with env.engine.connect() as conn:
        rows = await conn.execute(
            select(env.tables.inbox.c.event_id).where(env.tables.inbox.c.consumer_group == GROUP)
        )
        return {r[0] for r in rows}


async def outbox_ids(env: FaultEnv) -> set[uuid.UUID]:
    async with env.engine.connect() as conn:
        return {r[0] for r in await conn.execute(select(env.tables.outbox.c.event_id))}


async def unpublished(env: FaultEnv) -> int:
    async with env.engine.connect() as conn:
        count = await conn.scalar(
            text(f"SELECT count(*) FROM {SCHEMA}.outbox WHERE published_at IS NULL")
        )
    return int(count or 0)


async def pel_size(redis: Redis) -> int:
    return int((await redis.xpending(STREAM, GROUP))["pending"])


def once_each(events: list[Envelope]) -> dict[uuid.UUID, int]:
    return {e.id: 1 for e in events}


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    what: str,
    *,
    state: Callable[[], Awaitable[str]] | None = None,
    interval: float = 0.02,
) -> float:
    """Poll until `check` holds; returns the seconds it took, fails after `timeout`.

    `state` describes the system when the wait fails, so a timeout says where things stood.
    """
    start = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            detail = ""
            if state is not None:
                try:
                    detail = f"; state: {await state()}"
                except Exception as exc:
                    detail = f"; state unavailable: {exc!r}"
            raise AssertionError(f"not within {timeout:.1f}s: {what}{detail}")
        await asyncio.sleep(interval)


def bus_state(env: FaultEnv, redis: Redis) -> Callable[[], Awaitable[str]]:
    """For `eventually(state=...)`: where the events are, from outbox to effects."""

    async def describe() -> str:
        parts = [
            f"unpublished={await unpublished(env)}",
            f"inbox={len(await inbox_ids(env))}",
            f"effects={sum((await effect_counts(env)).values())}",
        ]
        async with env.engine.connect() as conn:
            sessions = await conn.execute(
                text(
                    "SELECT state, wait_event_type, wait_event, left(query, 60) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            )
            parts.append(f"pg_sessions={[tuple(row) for row in sessions]}")
        try:
            parts.append(f"xlen={await redis.xlen(STREAM)}")
            parts.append(f"groups={await redis.xinfo_groups(STREAM)}")
            parts.append(f"consumers={await redis.xinfo_consumers(STREAM, GROUP)}")
        except Exception as exc:
            parts.append(f"redis: {exc!r}")
        return " ".join(parts)

    return describe


async def consumer_is_up(redis: Redis, name: str) -> bool:
    """A consumer appears in XINFO CONSUMERS after its first read from the group."""
    try:
        consumers = await redis.xinfo_consumers(STREAM, GROUP)
    except Exception:
        return False
    return any(c["name"] == name for c in consumers)


# -- runner processes --------------------------------------------------------------------


@dataclass
class Processes:
    """Starts runner processes and guarantees each one is gone when the test ends."""

    log_dir: Path
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(
        self, role: str, database_url: str, redis_url: str, **options: Any
    ) -> subprocess.Popen[bytes]:
        name = str(options.get("consumer", role))
        log = self.log_dir / f"{role}-{name}-{len(self.started)}.log"
        argv = [sys.executable, str(RUNNER), role, "--database-url", database_url]
        argv += ["--redis-url", redis_url]
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.started.append((proc, log))
        return proc

    def consumer(
        self, env: FaultEnv, redis_url: str, name: str, **options: Any
    ) -> subprocess.Popen[bytes]:
        return self.start("consume", env.url, redis_url, consumer=name, **options)

    def relay(self, env: FaultEnv, redis_url: str) -> subprocess.Popen[bytes]:
        return self.start("relay", env.url, redis_url)

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused process would ignore SIGTERM
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            Processes.kill(proc)
            raise

    def close(self) -> None:
        alive = [proc for proc, _ in self.started if proc.poll() is None]
        for proc in alive:  # each logs where its tasks wait (bus_runner.dump_tasks)
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGUSR1)
        if alive:
            time.sleep(0.3)
        for proc, log in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            # Shown by pytest only when the test failed.
            tail = log.read_text(errors="replace")[-8000:]
            print(f"--- {log.name} (exit {proc.returncode}) ---\n{tail}")


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.close()


# -- private servers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A Redis without persistence that this module may restart and pause at will."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("fault-redis"), appendonly=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL cluster that this module may restart at will."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("fault-pg"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def private_redis_client(private_redis: EmbeddedRedis) -> AsyncIterator[Redis]:
    client = bounded_redis(private_redis.url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()
