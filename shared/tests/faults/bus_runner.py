"""A bus consumer or relay as a real process, so fault tests can SIGKILL it at a chosen point.

Run as ``python bus_runner.py consume|relay ...``. The consumer's handler records one row per
event in ``bustest.effects``; the fault modes freeze the process at the point a test wants to
kill it and first announce that point in Redis, so the test can kill at exactly that moment
instead of guessing with sleeps:

- ``after-commit``: the transaction committed, ``ack()`` was reached, XACK never happens;
- ``before-commit``: the handler wrote its effect inside the open transaction, which never
  commits.

This module imports only ``aurora_shared``: it runs outside pytest, with the test's URLs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.bus.runtime import run_until_stopped
from aurora_shared.bus.tables import bus_tables
from aurora_shared.config import BusSettings
from aurora_shared.db import make_engine, make_sessionmaker, schema_metadata

SCHEMA = "bustest"
STREAM = "bustest.events"
GROUP = "testgroup"
EVENT_TYPE = "thing.happened"
FAULTS = ("none", "after-commit", "before-commit")
# A hung Redis must surface as an error, never as a call that waits forever; it has to
# exceed the XREADGROUP block time.
REDIS_SOCKET_TIMEOUT_S = 2.0

log = logging.getLogger("aurora.tests.bus_runner")


def ready_key(consumer: str) -> str:
    """Set by a frozen consumer to the entry ids it holds; the test kills it once it exists."""
    return f"fault:ready:{consumer}"


def reclaimed_key(consumer: str) -> str:
    """How many entries this consumer took over with XAUTOCLAIM."""
    return f"fault:reclaimed:{consumer}"


def own_pending_key(consumer: str) -> str:
    """How many entries this consumer re-read from its own PEL (XREADGROUP 0)."""
    return f"fault:own-pending:{consumer}"


def bounded_redis(url: str) -> Redis:
    client: Redis = Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
    )
    return client


class FaultyConsumer(StreamConsumer):
    """StreamConsumer with counters and a freeze point between commit and XACK."""

    fault = "none"

    async def ack(self, entry_ids: list[str]) -> None:
        if self.fault == "after-commit":
            await self.redis.set(ready_key(self.consumer), ",".join(entry_ids))
            log.warning("frozen after commit, before XACK", extra={"ids": entry_ids})
            await asyncio.Event().wait()  # until SIGKILL
        await super().ack(entry_ids)

    async def reclaim(self) -> int:
        total = await super().reclaim()
        if total:
            await self.redis.incrby(reclaimed_key(self.consumer), total)
        return total

    async def process_own_pending(self) -> int:
        total = await super().process_own_pending()
        if total:
            await self.redis.incrby(own_pending_key(self.consumer), total)
        return total


class FaultyConsumerHandler:
    """Writes the effect; in ``before-commit`` mode then freezes inside the transaction."""

    def __init__(self, redis: Redis, consumer: str, fault: str, delay_s: float) -> None:
        self.redis = redis
        self.consumer = consumer
        self.fault = fault
        self.delay_s = delay_s

    async def __call__(self, session: AsyncSession, event: Envelope) -> None:
        await session.execute(
            text(f"INSERT INTO {SCHEMA}.effects (event_id, note) VALUES (:e, :n)"),
            {"e": event.id, "n": self.consumer},
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fault == "before-commit":
            await cast(Awaitable[object], self.redis.set(ready_key(self.consumer), str(event.id)))
            log.warning("frozen before commit", extra={"event_id": str(event.id)})
            await asyncio.Event().wait()  # until SIGKILL


async def consume(args: argparse.Namespace) -> None:
    settings = BusSettings(
        consumer_block_ms=args.block_ms,
        consumer_batch_size=args.batch_size,
        claim_min_idle_ms=args.claim_min_idle_ms,
        claim_interval_s=args.claim_interval_s,
        max_deliveries=args.max_deliveries,
    )
    engine = make_engine(args.database_url, pool_size=2, pre_ping=False)  # as Runtime.open
    redis = bounded_redis(args.redis_url)
    consumer = FaultyConsumer(
        redis=redis,
        sessionmaker=make_sessionmaker(engine),
        inbox=bus_tables(schema_metadata(SCHEMA)).inbox,
        stream=STREAM,
        group=GROUP,
        consumer=args.consumer,
        handlers={
            EVENT_TYPE: FaultyConsumerHandler(redis, args.consumer, args.fault, args.delay_s)
        },
        settings=settings,
        service="faulttest",
    )
    consumer.fault = args.fault
    try:
        await run_until_stopped([consumer.run])
    finally:
        await redis.aclose()
        await engine.dispose()


async def relay(args: argparse.Namespace) -> None:
    engine = make_engine(args.database_url, pool_size=2, pre_ping=False)  # as Runtime.open
    redis = bounded_redis(args.redis_url)
    outbox_relay = OutboxRelay(
        engine, redis, SCHEMA, service="faulttest", batch_size=100, poll_interval_s=0.1
    )
    try:
        await run_until_stopped([outbox_relay.run])
    finally:
        await redis.aclose()
        await engine.dispose()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=("consume", "relay"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--consumer", default="c1")
    parser.add_argument("--fault", choices=FAULTS, default="none")
    parser.add_argument("--claim-min-idle-ms", type=int, default=1000)
    parser.add_argument("--claim-interval-s", type=float, default=0.1)
    parser.add_argument("--block-ms", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--max-deliveries", type=int, default=5)
    parser.add_argument("--delay-s", type=float, default=0.0, help="handler time per event")
    return parser.parse_args(argv)


def dump_tasks() -> None:
    """On SIGUSR1: where every task is waiting, so a test that times out can say why."""
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


async def run_role(args: argparse.Namespace) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    await (consume(args) if args.role == "consume" else relay(args))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s {args.role}:{args.consumer} %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(run_role(args))


if __name__ == "__main__":
    main()
