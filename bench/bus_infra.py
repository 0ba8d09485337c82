"""Plumbing of the bus benchmark: spawned child processes, the servers, a fresh database.

Children are spawned, not forked, so none inherits the parent's event loop or
connections, and each imports exactly what its role needs, as a service process does.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import asyncpg

from aurora_shared.config import asyncpg_url
from bench.bus_procs import Result

CTX = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Servers:
    database_url: str  # the admin database; the benchmark creates its own next to it
    redis_url: str
    embedded_postgres: bool
    embedded_redis: bool


class Child:
    """One spawned process whose entry point puts a single result on its queue."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self.name = name
        self.role = name.split("-", 1)[0]  # relay, consumer, producer
        self.queue: Queue[Result] = CTX.Queue()
        self.proc = CTX.Process(target=target, args=(*args, self.queue), name=name, daemon=True)
        self.proc.start()

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None, "started in __init__"
        return self.proc.pid

    async def result(self, timeout: float) -> Result:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(queue.Empty):
                return await asyncio.to_thread(self.queue.get, True, 0.5)
            if not self.proc.is_alive() and self.queue.empty():
                raise RuntimeError(f"{self.name} exited with code {self.proc.exitcode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} gave no result within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()  # SIGTERM: run_until_stopped finishes the current step

    def join(self) -> None:
        self.proc.join(15)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


@contextlib.contextmanager
def servers(tmp: Path) -> Iterator[Servers]:
    """DATABASE_URL / REDIS_URL when set, else embedded servers that die with the run."""
    db, rd = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    embedded_db, embedded_redis = not db, not rd
    started: list[Any] = []
    try:
        if not db or not rd:
            from aurora_shared.embedded import EmbeddedPostgres, EmbeddedRedis

            if not db:
                pg = EmbeddedPostgres(tmp / "pg")
                started.append(pg)
                db = pg.start()
            if not rd:
                redis_server = EmbeddedRedis(tmp / "redis")
                started.append(redis_server)
                rd = redis_server.start()
        yield Servers(db, rd, embedded_db, embedded_redis)
    finally:
        for server in reversed(started):
            server.stop()


def _with_database(url: str, database: str) -> str:
    head, _, tail = asyncpg_url(url).rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{database}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str, prefix: str = "aurora_bench_bus") -> AsyncIterator[str]:
    """A database of its own for one benchmark run, dropped afterwards."""
    name = f"{prefix}_{os.getpid()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_url(admin_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
