"""Orchestration of the bus benchmark: the schema, the ceilings, the phases, the numbers.

The parent process only starts children, polls and counts; all measured work happens in
the child processes of bench/bus_procs.py, and every time stamp that enters a result is
taken inside a child (wall clock, one machine), so process start-up is never measured.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import text

from aurora_shared.bus.consumer import dlq_stream, errors_key
from aurora_shared.bus.reconciler import epoch_key
from aurora_shared.bus.runtime import make_redis
from aurora_shared.bus.tables import notify_trigger_ddl
from aurora_shared.config import BusSettings, asyncpg_url
from aurora_shared.db import make_engine
from bench import bus_procs as procs
from bench.bus_cpu import CpuMeter, machine_busy
from bench.bus_infra import CTX, Child, Servers, fresh_database, servers
from bench.bus_procs import GROUP, RAW_GROUP, RAW_STREAM, RAW_TABLE, SCHEMA, STREAM, Load, Result

TARGET_EVENTS_PER_S = 2000.0
TARGET_P99_MS = 250.0


@dataclass(frozen=True)
class Params:
    events: int = 20_000
    batch: int = 50
    producers: int = 1
    single_events: int = 3_000
    single_producers: int = 8
    rate: float = 500.0
    duration_s: float = 20.0
    paced_producers: int = 16
    raw_events: int = 20_000
    # The services' defaults (AURORA_BUS_* overrides them, see bench/bus.py).
    relay_batch: int = BusSettings.model_fields["relay_batch_size"].default
    relay_linger_ms: int = BusSettings.model_fields["relay_linger_ms"].default
    consumer_batch: int = BusSettings.model_fields["consumer_batch_size"].default
    consumers: int = 2
    log_level: str = "INFO"  # the services' default; the consumer logs a line per event


async def create_schema(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            await conn.run_sync(procs.bench_metadata().create_all)
            for ddl in notify_trigger_ddl(SCHEMA):
                await conn.execute(text(ddl))
            # Outbox-shaped, with its indexes but without the NOTIFY trigger.
            await conn.execute(
                text(f"CREATE TABLE {SCHEMA}.{RAW_TABLE} (LIKE {SCHEMA}.outbox INCLUDING ALL)")
            )
    finally:
        await engine.dispose()


async def clear_redis(redis: Redis) -> None:
    keys = [STREAM, dlq_stream(STREAM), errors_key(STREAM, GROUP), RAW_STREAM, epoch_key(SCHEMA)]
    await redis.delete(*keys)


# -- ceilings ------------------------------------------------------------------------


async def raw_redis_rate(redis: Redis, redis_url: str, p: Params) -> Result:
    await redis.xgroup_create(RAW_STREAM, RAW_GROUP, id="0", mkstream=True)
    ready = CTX.Event()
    reader = Child(
        "raw-redis-reader", procs.raw_redis_reader_main, redis_url, p.raw_events,
        p.consumer_batch, ready,
    )  # fmt: skip
    try:
        if not await asyncio.to_thread(ready.wait, 60):
            raise TimeoutError("raw redis reader did not start")
        writer = Child(
            "raw-redis-writer", procs.raw_redis_writer_main, redis_url, p.raw_events,
            p.relay_batch,
        )  # fmt: skip
        wrote, read = await writer.result(60), await reader.result(60)
        writer.join()
    finally:
        reader.stop()
        reader.join()
    await redis.delete(RAW_STREAM)
    seconds = read["t_done"] - wrote["t_first"]
    return {"events": p.raw_events, "seconds": seconds, "per_s": p.raw_events / seconds}


async def raw_insert_rate(database_url: str, p: Params) -> Result:
    child = Child("raw-insert", procs.raw_insert_main, database_url, p.raw_events, p.batch)
    done = await child.result(60)
    child.join()
    seconds = done["t_done"] - done["t_first"]
    return {"events": p.raw_events, "seconds": seconds, "per_s": p.raw_events / seconds}


# -- the full path -------------------------------------------------------------------


def loads(p: Params) -> list[Load]:
    return [
        Load("warmup", 1_000, p.batch, 1),
        Load("batch", p.events, p.batch, p.producers),
        Load("single", p.single_events, 1, p.single_producers),
        Load("paced", round(p.rate * p.duration_s), 1, p.paced_producers, p.rate, lean=True),
    ]


async def wait_for_effects(conn: Any, expected: int, timeout: float) -> None:
    """Polls cheaply (max(id) is one index probe) and counts only when it may be done."""
    deadline = time.monotonic() + timeout
    table = f"{SCHEMA}.effects"
    while True:
        top = await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {table}")
        if top >= expected and await conn.fetchval(f"SELECT count(*) FROM {table}") >= expected:
            return
        if time.monotonic() > deadline:
            n = await conn.fetchval(f"SELECT count(*) FROM {table}")
            raise TimeoutError(f"only {n} of {expected} events were applied in {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def run_phase(
    conn: Any,
    database_url: str,
    redis_url: str,
    load: Load,
    expected: int,
    children: Sequence[Child],
) -> Result:
    ready, go = CTX.Event(), CTX.Event()
    producer = Child(f"producer-{load.phase}", procs.producer_main, database_url, load, ready, go)
    # Generous: a machine busy with other work is slow, and a result beats a timeout.
    budget = 30 + 2 * load.events / (load.rate or (200 if load.batch == 1 else 500))
    stop_meter = asyncio.Event()
    try:
        if not await asyncio.to_thread(ready.wait, 60):
            raise TimeoutError(f"{producer.name} did not start")
        roles = {c.pid: c.role for c in (*children, producer)}
        meter = CpuMeter(roles, database_url.rsplit("/", 1)[1], urlsplit(redis_url).port)
        meter.sample()
        sampler = asyncio.create_task(meter.run(stop_meter))
        started = time.monotonic()
        go.set()
        produced = await producer.result(budget)
        await wait_for_effects(conn, expected, budget)
        produced["cpu"] = meter.usage(time.monotonic() - started)
    finally:
        stop_meter.set()
        producer.stop()
        producer.join()
    await sampler
    return produced


async def full_path(servers_: Servers, database_url: str, p: Params) -> dict[str, Any]:
    bus = BusSettings(
        relay_batch_size=p.relay_batch,
        relay_linger_ms=p.relay_linger_ms,
        consumer_batch_size=p.consumer_batch,
    )
    args = (database_url, servers_.redis_url, bus, p.log_level)
    relay = Child("relay", procs.relay_main, *args)
    consumers = [Child(f"consumer-{i}", procs.consumer_main, *args) for i in range(p.consumers)]
    produced: dict[str, Result] = {}
    records: list[procs.Record] = []
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        expected = 0
        for load in loads(p):
            expected += load.events
            produced[load.phase] = await run_phase(
                conn, database_url, servers_.redis_url, load, expected, [relay, *consumers]
            )
            print(f"  {load.phase}: {load.events} events applied", flush=True)
        for child in consumers:
            child.stop()
        for child in consumers:
            records += (await child.result(30))["records"]
        relay.stop()
        await relay.result(30)
    finally:
        await conn.close()
        for child in [*consumers, relay]:
            child.stop()
            child.join()
    by_phase: dict[str, list[tuple[float, float]]] = {}
    for phase, created, committed in records:
        by_phase.setdefault(phase, []).append((created, committed))
    return {
        "produced": produced,
        "phases": {
            phase: phase_stats(produced[phase], by_phase.get(phase, []))
            for phase in ("batch", "single", "paced")
        },
        "bus_settings": bus.model_dump(),
    }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q % of the samples at or below it."""
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def phase_stats(produced: Result, times: list[tuple[float, float]]) -> dict[str, Any]:
    t_first, t_done = produced["t_first"], produced["t_done"]
    last_commit = max(c for _, c in times)
    latencies = sorted((c - t) * 1000 for t, c in times)
    # Commits per whole second of the run: a burst would show as a few fast seconds.
    per_second = Counter(int(c - t_first) for _, c in times)
    whole = [per_second.get(s, 0) for s in range(int(last_commit - t_first))] or [len(times)]
    return {
        "events": len(times),
        "cpu_s": produced["cpu"],
        "cpu_us_per_event": {
            role: round(seconds / len(times) * 1e6)
            for role, seconds in produced["cpu"].items()
            if role not in ("machine_utilisation", "steal_share")
        },
        "producer_seconds": round(t_done - t_first, 3),
        "offered_per_s": round(len(times) / (t_done - t_first), 1),
        "producer_max_lag_ms": round(produced["max_lag_s"] * 1000, 1),
        "seconds": round(last_commit - t_first, 3),
        "events_per_s": round(len(times) / (last_commit - t_first), 1),
        "commits_per_s_min": min(whole),
        "commits_per_s_median": statistics.median(whole),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(latencies[-1], 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
    }


async def checks(database_url: str, redis: Redis, produced: int) -> dict[str, Any]:
    """Exactly-once and nothing left behind, asserted on the data the run produced."""
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        row = await conn.fetchrow(
            f"SELECT (SELECT count(*) FROM {SCHEMA}.effects) AS effects, "
            f"(SELECT count(DISTINCT event_id) FROM {SCHEMA}.effects) AS distinct_events, "
            f"(SELECT count(*) FROM {SCHEMA}.inbox) AS inbox, "
            f"(SELECT count(*) FROM {SCHEMA}.outbox) AS outbox, "
            f"(SELECT count(*) FROM {SCHEMA}.outbox WHERE published_at IS NULL) AS unpublished"
        )
    finally:
        await conn.close()
    result: dict[str, Any] = {"produced": produced, **dict(row)}
    result["pending"] = (await redis.xpending(STREAM, GROUP))["pending"]
    result["dead_lettered"] = await redis.xlen(dlq_stream(STREAM))
    counts = ("effects", "distinct_events", "inbox", "outbox")
    result["ok"] = (
        all(result[k] == produced for k in counts)
        and result["unpublished"] == 0
        and result["pending"] == 0
        and result["dead_lettered"] == 0
    )
    return result


async def background_load(seconds: float = 1.0) -> float:
    """Share of all cores busy while the benchmark is idle: other work skews the numbers."""
    before = machine_busy()
    await asyncio.sleep(seconds)
    return (machine_busy() - before) / (seconds * (os.cpu_count() or 1))


async def run(p: Params) -> dict[str, Any]:
    from bench import bus_report

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="aurora-bench-bus-") as tmp, servers(Path(tmp)) as srv:
        print(f"servers: {bus_report.describe_servers(srv)}", flush=True)
        background = await background_load()
        if background > 0.1:
            print(f"warning: the machine is {background:.0%} busy before the run", flush=True)
        async with fresh_database(srv.database_url) as database_url:
            await create_schema(database_url)
            redis = make_redis(srv.redis_url)
            try:
                await clear_redis(redis)
                print("ceilings: raw XADD+XREADGROUP, raw INSERT", flush=True)
                raw_redis = await raw_redis_rate(redis, srv.redis_url, p)
                raw_insert = await raw_insert_rate(database_url, p)
                print("full path: outbox -> relay -> stream -> consumer", flush=True)
                path = await full_path(srv, database_url, p)
                produced = sum(load.events for load in loads(p))
                verified = await checks(database_url, redis, produced)
                machine = await bus_report.machine(database_url, redis)
                machine["busy_before_run"] = round(background, 3)
            finally:
                await clear_redis(redis)
                await redis.aclose()
        servers_text = bus_report.describe_servers(srv)
    batch, paced = path["phases"]["batch"], path["phases"]["paced"]
    return {
        "events_per_s": batch["events_per_s"],
        "p50_ms": paced["latency_ms"]["p50"],
        "p95_ms": paced["latency_ms"]["p95"],
        "p99_ms": paced["latency_ms"]["p99"],
        "raw_redis_per_s": round(raw_redis["per_s"], 1),
        "raw_insert_per_s": round(raw_insert["per_s"], 1),
        "ratio_to_raw_redis": round(batch["events_per_s"] / raw_redis["per_s"], 3),
        "ratio_to_raw_insert": round(batch["events_per_s"] / raw_insert["per_s"], 3),
        "single_txn_events_per_s": path["phases"]["single"]["events_per_s"],
        "targets": {
            "events_per_s": TARGET_EVENTS_PER_S,
            "p99_ms": TARGET_P99_MS,
            "met": batch["events_per_s"] >= TARGET_EVENTS_PER_S
            and paced["latency_ms"]["p99"] < TARGET_P99_MS,
        },
        "params": asdict(p),
        "bus_settings": path["bus_settings"],
        "phases": path["phases"],
        "ceilings": {"raw_redis": raw_redis, "raw_insert": raw_insert},
        "checks": verified,
        "servers": servers_text,
        "machine": machine,
        "command": bus_report.command(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 1),
    }
