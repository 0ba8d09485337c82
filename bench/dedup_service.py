"""The dedup service path: workout.ingested in, workout.resolved out, real processes.

Relay and worker(s) are `aurora relay dedup` / `aurora worker dedup` on a freshly
migrated database; the benchmark only publishes on `ingest.records` (entries as ingest's
relay writes them) and reads `dedup.timeline` afterwards. Phases: a warm-up, a flat-out
backlog (max throughput) and a paced phase (lag per record at a fixed offered rate).
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from redis.asyncio import Redis

from aurora_dedup.config import DedupBusSettings
from aurora_shared.bus.consumer import dlq_stream
from aurora_shared.bus.runtime import make_redis
from aurora_shared.config import asyncpg_url
from bench import dedup_service_io as io
from bench.bus_cpu import CpuMeter
from bench.bus_infra import Servers, fresh_database
from bench.dedup_data import IngestRecord, PublicSet, service_load
from bench.dedup_profile import profile_handler

TARGET_RECORDS_PER_S = 1_000.0
TARGET_P99_MS = 500.0
PROFILE_USERS, PROFILE_PER_USER = 100, 20
PATH_ROLES = ("worker", "relay", "postgres", "redis")
CORES = os.cpu_count() or 1
_BUS = DedupBusSettings.model_fields


@dataclass(frozen=True)
class ServiceParams:
    users: int = 200
    per_user: int = 100  # flat-out: users x per_user records published at once
    rate: float = 300.0  # paced phase: records/s offered
    duration_s: float = 20.0
    paced_users: int = 200
    workers: int = 2  # `aurora worker dedup` processes in the consumer group
    consumer_batch: int = _BUS["consumer_batch_size"].default
    relay_batch: int = _BUS["relay_batch_size"].default
    relay_linger_ms: int = _BUS["relay_linger_ms"].default

    def bus(self) -> dict[str, Any]:
        return {
            "consumer_batch_size": self.consumer_batch,
            "relay_batch_size": self.relay_batch,
            "relay_linger_ms": self.relay_linger_ms,
        }


_DB_COUNTERS = (
    "xact_commit", "xact_rollback", "deadlocks", "tup_returned", "tup_fetched",
    "tup_inserted", "tup_updated", "tup_deleted",
)  # fmt: skip


async def db_counters(conn: Any) -> dict[str, int]:
    """pg_stat_database of the benchmark database (backends report about once a second)."""
    row = await conn.fetchrow(
        f"SELECT {', '.join(_DB_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()"
    )
    return {k: int(row[k]) for k in _DB_COUNTERS}


_TABLE_COUNTERS = ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch")


async def table_counters(conn: Any) -> dict[str, dict[str, int]]:
    """Scans per dedup table: a statement that scans a whole table shows up here."""
    rows = await conn.fetch(
        f"SELECT relname, {', '.join(_TABLE_COUNTERS)} FROM pg_stat_user_tables "
        f"WHERE schemaname = '{io.SCHEMA}'"
    )
    return {r["relname"]: {k: int(r[k] or 0) for k in _TABLE_COUNTERS} for r in rows}


def table_deltas(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], n: int
) -> dict[str, dict[str, float]]:
    """Per record, only for the tables the phase touched."""
    out: dict[str, dict[str, float]] = {}
    for table, counts in after.items():
        old = before.get(table, {})
        delta = {k: round((v - old.get(k, 0)) / n, 2) for k, v in counts.items()}
        if any(delta.values()):
            out[table] = delta
    return out


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank, as bench/bus_bench.py computes it."""
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def phase_stats(
    published: io.Published, resolved: io.Resolved, cpu: dict[str, float], db: dict[str, int]
) -> dict[str, Any]:
    n = len(published.at_ms)
    lat = sorted(
        float(resolved.first_ms[r] - t)
        for r, t in published.at_ms.items()
        if r in resolved.first_ms
    )
    first = min(published.at_ms.values())
    last = io.stream_ms(resolved.last_entry)
    seconds = max(last - first, 1) / 1000
    span = max(max(published.at_ms.values()) - first, 1) / 1000
    per_record = {
        role: round(s / n * 1e6)
        for role, s in cpu.items()
        if role not in ("machine_utilisation", "steal_share")
    }
    path_us = sum(per_record.get(r, 0) for r in PATH_ROLES)
    return {
        "records": n,
        "resolved_records": len(lat),
        "unresolved_records": n - len(lat),
        "resolved_events": resolved.resolved_events,
        "other_events": resolved.other_events,
        "offered_per_s": round(n / span, 1),
        "publisher_max_lag_ms": round(published.max_lag_ms, 1),
        "seconds": round(seconds, 3),
        "records_per_s": round(n / seconds, 1),
        "latency_ms": {
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "p99": percentile(lat, 99),
            "max": lat[-1],
            "mean": round(statistics.fmean(lat), 1),
        }
        if lat
        else {},
        "cpu_s": cpu,
        "cpu_us_per_record": per_record,
        # What the path's own CPU per record allows on this machine's cores if nothing else
        # ran: on a shared 2-core machine the measured rate also carries other work.
        "cpu_bound_records_per_s": round(CORES * 1e6 / path_us) if path_us else None,
        "db_per_record": {k: round(v / n, 2) for k, v in db.items()},
        "db_totals": db,
    }


class RunningPath:
    """The running path: its processes, the connections the benchmark watches it with."""

    def __init__(self, redis: Redis, conn: Any, procs: list[io.ServiceProcess], db: str) -> None:
        self.redis, self.conn, self.procs, self.db = redis, conn, procs, db

    async def phase(self, load: Sequence[IngestRecord], rate: float, port: int | None) -> Any:
        entries = io.envelopes(load)
        after = await io.last_entry_id(self.redis, io.RESOLVED_STREAM)
        roles = {p.proc.pid: p.role for p in self.procs}
        meter = CpuMeter(roles, self.db.rsplit("/", 1)[1], port)
        meter.sample()
        stop = asyncio.Event()
        sampler = asyncio.create_task(meter.run(stop))
        before, tables = await db_counters(self.conn), await table_counters(self.conn)
        started = time.monotonic()
        try:
            if rate > 0:
                published = await io.publish_paced(self.redis, entries, rate)
            else:
                published = await io.publish_all(self.redis, entries)
            # Generous (>= 20 records/s): a slow path is a result, a timeout is not.
            budget = 120 + len(entries) / 20
            await io.wait_until_consumed(
                self.redis, self.conn, published.last_entry, budget, self.procs
            )
            cpu = meter.usage(time.monotonic() - started)
        finally:
            stop.set()
            await sampler
        await asyncio.sleep(1.2)  # let the backends report their statistics
        after_db = await db_counters(self.conn)
        resolved = await io.read_resolved(self.redis, after, set(published.at_ms))
        db = {k: after_db[k] - before[k] for k in before}
        stats = phase_stats(published, resolved, cpu, db)
        stats["tables_per_record"] = table_deltas(
            tables, await table_counters(self.conn), len(published.at_ms)
        )
        return stats

    async def checks(self, published: int) -> dict[str, Any]:
        row = await self.conn.fetchrow(
            f"SELECT (SELECT count(*) FROM {io.SCHEMA}.source_records) AS source_records, "
            f"(SELECT count(*) FROM {io.SCHEMA}.canonical_workouts) AS canonicals, "
            f"(SELECT count(*) FROM {io.SCHEMA}.outbox WHERE published_at IS NULL) AS unpublished"
        )
        result: dict[str, Any] = {"published": published, **dict(row)}
        result["pending"] = (await self.redis.xpending(io.INGEST_STREAM, io.GROUP))["pending"]
        result["dead_lettered"] = await self.redis.xlen(dlq_stream(io.INGEST_STREAM))
        result["ok"] = (
            result["source_records"] == published
            and result["unpublished"] == 0
            and result["pending"] == 0
            and result["dead_lettered"] == 0
        )
        return result


async def _wait_for_group(redis: Redis, workers: int, procs: list[io.ServiceProcess]) -> None:
    deadline = time.monotonic() + 60
    while True:
        if [p for p in procs if not p.alive()]:
            raise RuntimeError("a service process exited during start-up; see its log")
        if await redis.exists(io.INGEST_STREAM):
            groups = await redis.xinfo_groups(io.INGEST_STREAM)
            if any(g["name"] == io.GROUP and int(g["consumers"]) >= workers for g in groups):
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the dedup workers did not join their group within 60 s")
        await asyncio.sleep(0.2)


async def run_service(
    srv: Servers, p: ServiceParams, public: PublicSet, logs: Path, profile: str = "auto"
) -> dict[str, Any]:
    """The phases' figures; with a profile of the handler when the targets are missed
    (profile="auto"), or always / never."""
    records = public.records()
    paced_n = round(p.rate * p.duration_s)
    loads = {
        "warmup": service_load(records, 10, 20, "w"),
        "flat": service_load(records, p.users, p.per_user, "f"),
        "paced": service_load(records, p.paced_users, math.ceil(paced_n / p.paced_users), "p")[
            :paced_n
        ],
    }
    async with fresh_database(srv.database_url, "aurora_bench_dedup") as db:
        env = io.service_env(db, srv.redis_url, p.bus())
        await asyncio.to_thread(io.migrate, env)
        redis = make_redis(srv.redis_url)
        await io.clear_redis(redis)
        procs = [io.ServiceProcess.start("relay", 0, env, logs)]
        procs += [io.ServiceProcess.start("worker", i, env, logs) for i in range(p.workers)]
        conn = await asyncpg.connect(asyncpg_url(db))
        phases: dict[str, Any] = {}
        try:
            await _wait_for_group(redis, p.workers, procs)
            path = RunningPath(redis, conn, procs, db)
            port = urlsplit(srv.redis_url).port
            for name, load in loads.items():
                rate = p.rate if name == "paced" else 0.0
                phases[name] = await path.phase(load, rate, port)
                print(f"  service {name}: {len(load):,} records resolved", flush=True)
            verified = await path.checks(sum(len(x) for x in loads.values()))
        finally:
            for proc in procs:
                proc.stop()
            await conn.close()
            await io.clear_redis(redis)
            await redis.aclose()
        flat, paced = phases["flat"], phases["paced"]
        result = {
            "service_records_per_s": flat["records_per_s"],
            "service_p50_ms": paced["latency_ms"].get("p50"),
            "service_p99_ms": paced["latency_ms"].get("p99"),
            "targets": {
                "records_per_s": TARGET_RECORDS_PER_S,
                "p99_ms": TARGET_P99_MS,
                "met": flat["records_per_s"] >= TARGET_RECORDS_PER_S
                and paced["latency_ms"].get("p99", math.inf) < TARGET_P99_MS,
            },
            "params": asdict(p),
            "phases": phases,
            "checks": verified,
            "logs": {f"{x.role}-{i}": x.log_levels() for i, x in enumerate(procs)},
        }
        if profile == "always" or (profile == "auto" and not result["targets"]["met"]):
            print("  profiling the handler in-process (cProfile)", flush=True)
            load = service_load(records, PROFILE_USERS, PROFILE_PER_USER, "prof")
            # Half as many: the profiler slows the handler several-fold.
            profiled = service_load(records, PROFILE_USERS, PROFILE_PER_USER // 2, "prof-c")
            try:
                result["profile"] = await profile_handler(db, load, profiled, p.consumer_batch)
            except Exception as exc:  # a diagnostic: its failure must not lose the figures
                result["profile"] = {"error": f"{type(exc).__name__}: {exc}"}
        return result
