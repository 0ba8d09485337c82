"""The processes of the bus benchmark: producer, relay, consumer and the two raw ceilings.

Each runs in its own OS process, as in production, so the relay and the consumer do not
share one interpreter (and one core) with the producer. The relay and the consumer are
built from the same plumbing as `aurora <svc> relay|worker` (Runtime, relay_components,
StreamConsumer, run_until_stopped), so a SIGTERM stops them the way it stops a service.
Every entry point ends by putting one picklable result on its queue.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, Column, Double, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import StreamConsumer
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.bus.relay import entry_fields
from aurora_shared.bus.runtime import make_redis, run_until_stopped
from aurora_shared.bus.tables import bus_tables
from aurora_shared.config import BusSettings, ServiceSettings, asyncpg_url
from aurora_shared.db import make_engine, make_sessionmaker, schema_metadata
from aurora_shared.logging import configure_logging
from aurora_shared.service import Runtime, consumer_name, relay_components

SCHEMA = "benchbus"
STREAM = "benchbus.events"
GROUP = "bench"
EVENT_TYPE = "activity.ingested"
RAW_STREAM = "benchbus.raw"
RAW_GROUP = "raw"
RAW_TABLE = "raw_outbox"
SERVICE = "bench"

Result = dict[str, Any]
Record = tuple[str, float, float]  # (phase, created, committed), wall-clock seconds


def bench_metadata() -> MetaData:
    """The bus tables of a service schema plus the table the benchmark handler writes."""
    md = schema_metadata(SCHEMA)
    bus_tables(md)
    Table(
        "effects",
        md,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("phase", Text, nullable=False),
        Column("activity_id", UUID(as_uuid=True), nullable=False),
        Column("distance_m", Double, nullable=False),
    )
    return md


def make_event(phase: str, created: float, seq: int) -> Envelope:
    """An event of the size a real producer writes (~500 bytes serialised)."""
    return new_event(
        EVENT_TYPE,
        producer=SERVICE,
        user_id=uuid.uuid4(),
        occurred_at=datetime.fromtimestamp(created, UTC),
        payload={
            "phase": phase,
            "t": created,
            "seq": seq,
            "activity_id": str(uuid.uuid4()),
            "sport": "running",
            "started_at": "2024-05-04T07:12:00+00:00",
            "duration_s": 3120,
            "distance_m": 10234.5,
            "source": "upload",
            "checksum": uuid.uuid4().hex * 2,
        },
    )


def _production_logging(role: str, level: str) -> None:
    """JSON logs like `run_worker`/`run_relay` (INFO by default), formatted but sent to
    /dev/null so that log lines cost what they cost in production; warnings reach stderr."""
    configure_logging(f"{SERVICE}-{role}", level, json_output=True)
    root = logging.getLogger()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    loud = logging.StreamHandler(sys.stderr)
    loud.setLevel(logging.WARNING)
    root.addHandler(loud)


def _runtime(database_url: str, redis_url: str, bus: BusSettings) -> Runtime:
    """Opened as `run_relay` / `run_worker` open theirs (no pre-ping)."""
    settings = ServiceSettings(
        service_name=SERVICE,
        database_url=database_url,
        redis_url=redis_url,
        bus=bus,
        db_pool_size=2,
    )
    return Runtime.open(settings, pre_ping=False)


# -- relay ---------------------------------------------------------------------------


def relay_main(
    database_url: str, redis_url: str, bus: BusSettings, log_level: str, out: Queue[Result]
) -> None:
    _production_logging("relay", log_level)
    out.put(asyncio.run(_relay(database_url, redis_url, bus)))


async def _relay(database_url: str, redis_url: str, bus: BusSettings) -> Result:
    runtime = _runtime(database_url, redis_url, bus)
    try:
        if not await run_until_stopped(relay_components(runtime, SCHEMA, [STREAM])):
            raise RuntimeError("a relay component crashed")
    finally:
        await runtime.close()
    return {}


# -- consumer ------------------------------------------------------------------------


class TimedConsumer(StreamConsumer):
    """A real StreamConsumer whose handler writes one effect row per event.

    The commit time is taken in `ack`, which the consumer calls right after the
    transaction (effects + inbox) committed and before XACK goes out.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(handlers={EVENT_TYPE: self.handle}, **kwargs)
        self.records: list[Record] = []
        self._session: AsyncSession | None = None
        self._inflight: list[tuple[str, float]] = []
        self._insert = text(
            f"INSERT INTO {SCHEMA}.effects (event_id, phase, activity_id, distance_m) "
            f"VALUES (:e, :p, :a, :d)"
        )

    async def handle(self, session: AsyncSession, event: Envelope) -> None:
        if session is not self._session:  # a new transaction: forget a rolled-back one
            self._session, self._inflight = session, []
        p = event.payload
        await session.execute(
            self._insert,
            {
                "e": event.id,
                "p": p["phase"],
                "a": uuid.UUID(p["activity_id"]),
                "d": p["distance_m"],
            },
        )
        self._inflight.append((p["phase"], float(p["t"])))

    async def ack(self, entry_ids: list[str]) -> None:
        now = time.time()
        self.records.extend((phase, created, now) for phase, created in self._inflight)
        self._session, self._inflight = None, []
        await super().ack(entry_ids)


def consumer_main(
    database_url: str, redis_url: str, bus: BusSettings, log_level: str, out: Queue[Result]
) -> None:
    _production_logging("worker", log_level)
    out.put(asyncio.run(_consume(database_url, redis_url, bus)))


async def _consume(database_url: str, redis_url: str, bus: BusSettings) -> Result:
    runtime = _runtime(database_url, redis_url, bus)
    consumer = TimedConsumer(
        redis=runtime.redis,
        sessionmaker=runtime.sessionmaker,
        inbox=bus_tables(schema_metadata(SCHEMA)).inbox,
        stream=STREAM,
        group=GROUP,
        consumer=consumer_name(),
        settings=bus,
        service=SERVICE,
    )
    try:
        if not await run_until_stopped([consumer.run]):
            raise RuntimeError("the consumer crashed")
    finally:
        await runtime.close()
    return {"records": consumer.records}


# -- producer ------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What one producer run offers: `events` as fast as possible, or `rate`/s for a while."""

    phase: str
    events: int
    batch: int
    concurrency: int
    rate: float = 0.0  # > 0: paced, one event per transaction
    # Paced only: write the outbox row with plain asyncpg (the row `enqueue` writes), so
    # the producer's own SQLAlchemy overhead does not take the CPU from the path measured.
    lean: bool = False

    @property
    def paced(self) -> bool:
        return self.rate > 0


_LEAN_INSERT = (
    f"INSERT INTO {SCHEMA}.outbox (event_id, stream, event_type, user_id, envelope) "
    f"VALUES ($1, $2, $3, $4, $5)"
)


def producer_main(
    database_url: str, load: Load, ready: MpEvent, go: MpEvent, out: Queue[Result]
) -> None:
    out.put(asyncio.run(_produce(database_url, load, ready, go)))


async def _produce(database_url: str, load: Load, ready: MpEvent, go: MpEvent) -> Result:
    """Writes events the way a service does: `enqueue` in a session, commit at the edge."""
    engine = make_engine(database_url, pool_size=load.concurrency)
    sessionmaker = make_sessionmaker(engine)
    outbox = bus_tables(schema_metadata(SCHEMA)).outbox
    next_batch = itertools.count()
    max_lag = 0.0

    async def write(events: list[Envelope]) -> None:
        async with sessionmaker() as session, session.begin():
            await enqueue(session, outbox, STREAM, events)

    async def flat_out() -> None:
        while (first := next(next_batch) * load.batch) < load.events:
            now = time.time()
            count = min(load.batch, load.events - first)
            await write([make_event(load.phase, now, first + i) for i in range(count)])

    async def paced(worker: int, start: float, conn: Any) -> None:
        # Events carry their scheduled time: a producer that falls behind shows up as latency.
        nonlocal max_lag
        for seq in range(worker, load.events, load.concurrency):
            due = start + seq / load.rate
            if (wait := due - time.time()) > 0:
                await asyncio.sleep(wait)
            max_lag = max(max_lag, time.time() - due)
            event = make_event(load.phase, due, seq)
            if conn is None:
                await write([event])
                continue
            async with conn.transaction():
                await conn.execute(
                    _LEAN_INSERT, event.id, STREAM, event.type, event.user_id,
                    event.model_dump_json(),
                )  # fmt: skip

    lean: list[Any] = []

    try:
        # Open the pool before the clock starts: connecting is not what is measured.
        async def ping() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                await asyncio.sleep(0.05)

        await asyncio.gather(*(ping() for _ in range(load.concurrency)))
        for _ in range(load.concurrency if load.lean else 0):
            lean.append(await asyncpg.connect(asyncpg_url(database_url)))
        ready.set()
        await asyncio.to_thread(go.wait)
        t_first = time.time()
        if load.paced:
            start = t_first + 0.01
            conns = lean or [None] * load.concurrency
            await asyncio.gather(*(paced(w, start, conns[w]) for w in range(load.concurrency)))
        else:
            await asyncio.gather(*(flat_out() for _ in range(load.concurrency)))
        t_done = time.time()
    finally:
        for conn in lean:
            await conn.close()
        await engine.dispose()
    return {"t_first": t_first, "t_done": t_done, "events": load.events, "max_lag_s": max_lag}


# -- ceilings ------------------------------------------------------------------------


def raw_envelopes(n: int) -> list[Envelope]:
    now = time.time()
    return [make_event("raw", now, i) for i in range(n)]


def raw_redis_writer_main(redis_url: str, n: int, pipeline: int, out: Queue[Result]) -> None:
    out.put(asyncio.run(_raw_redis_writer(redis_url, n, pipeline)))


async def _raw_redis_writer(redis_url: str, n: int, pipeline: int) -> Result:
    """XADD of the same entries the relay writes, pipelined like the relay does."""
    fields = [entry_fields(str(e.id), e.type, e.model_dump_json()) for e in raw_envelopes(n)]
    redis = make_redis(redis_url)
    try:
        await redis.ping()
        t_first = time.time()
        for start in range(0, n, pipeline):
            pipe = redis.pipeline(transaction=False)
            for entry in fields[start : start + pipeline]:
                pipe.xadd(RAW_STREAM, entry)
            await pipe.execute()
        return {"t_first": t_first, "t_done": time.time()}
    finally:
        await redis.aclose()


def raw_redis_reader_main(
    redis_url: str, n: int, count: int, ready: MpEvent, out: Queue[Result]
) -> None:
    out.put(asyncio.run(_raw_redis_reader(redis_url, n, count, ready)))


async def _raw_redis_reader(redis_url: str, n: int, count: int, ready: MpEvent) -> Result:
    """XREADGROUP + XACK in the consumer's batch size, nothing else."""
    redis = make_redis(redis_url, socket_timeout_s=60)
    got = 0
    try:
        await redis.ping()
        ready.set()
        while got < n:
            response = await redis.xreadgroup(
                RAW_GROUP, "r1", {RAW_STREAM: ">"}, count=count, block=30_000
            )
            if not response:
                raise RuntimeError(f"raw reader starved after {got} entries")
            ids = [entry_id for _stream, entries in response for entry_id, _ in entries]
            await redis.xack(RAW_STREAM, RAW_GROUP, *ids)
            got += len(ids)
        return {"t_done": time.time(), "read": got}
    finally:
        await redis.aclose()


def raw_insert_main(database_url: str, n: int, batch: int, out: Queue[Result]) -> None:
    out.put(asyncio.run(_raw_insert(database_url, n, batch)))


async def _raw_insert(database_url: str, n: int, batch: int) -> Result:
    """asyncpg executemany of outbox-shaped rows, `batch` rows per transaction."""
    rows = [(e.id, STREAM, e.type, e.user_id, e.model_dump_json()) for e in raw_envelopes(n)]
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        stmt = (
            f"INSERT INTO {SCHEMA}.{RAW_TABLE} (event_id, stream, event_type, user_id, envelope) "
            f"VALUES ($1, $2, $3, $4, $5)"
        )
        t_first = time.time()
        for start in range(0, n, batch):
            async with conn.transaction():
                await conn.executemany(stmt, rows[start : start + batch])
        return {"t_first": t_first, "t_done": time.time()}
    finally:
        await conn.close()
