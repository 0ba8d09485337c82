"""Plumbing of the dedup service benchmark: the database, the processes, the streams.

The worker and the relay are the real `aurora worker dedup` / `aurora relay dedup`
commands, started as a deployment starts them (environment only), so what is measured
is the shipped code path with its production logging (JSON on stderr, kept in a file
here so that warnings such as retried batches can be counted afterwards).

Every time stamp comes from Redis stream ids (the Redis server's clock, in ms): the
publish time of a record is the id of its `ingest.records` entry and the time of its
resolution is the id of the `dedup.timeline` entry that first names it. One clock, and
no reader process whose own delay would be counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from redis.asyncio import Redis

from aurora_shared.bus.consumer import dlq_stream, errors_key
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.reconciler import epoch_key
from aurora_shared.bus.relay import entry_fields
from bench.dedup_data import IngestRecord

INGEST_STREAM = "ingest.records"
RESOLVED_STREAM = "dedup.timeline"
GROUP = "dedup"
SCHEMA = "dedup"
WORKOUT_INGESTED = "workout.ingested"
WORKOUT_RESOLVED = "workout.resolved"
IDENTITY_STREAM = "identity.events"
AUDIT_STREAM = "audit.events"
AURORA = Path(sys.executable).with_name("aurora")


def stream_ms(entry_id: str | bytes) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


BENCH_KEYS = (
    INGEST_STREAM,
    dlq_stream(INGEST_STREAM),
    errors_key(INGEST_STREAM, GROUP),
    IDENTITY_STREAM,
    dlq_stream(IDENTITY_STREAM),
    errors_key(IDENTITY_STREAM, GROUP),
    RESOLVED_STREAM,
    AUDIT_STREAM,
    epoch_key(SCHEMA),
)


async def clear_redis(redis: Redis) -> None:
    await redis.delete(*BENCH_KEYS)


def service_env(database_url: str, redis_url: str, bus: dict[str, Any]) -> dict[str, str]:
    """What a deployment sets; service-specific URLs are pinned so none leaks in."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AURORA_DEDUP_", "AURORA_BUS_"))
    }
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
    env.update(AURORA_DEDUP_DATABASE_URL=database_url, AURORA_DEDUP_REDIS_URL=redis_url)
    env.update({f"AURORA_BUS_{k.upper()}": str(v) for k, v in bus.items()})
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(AURORA), "migrate", "dedup"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"aurora migrate dedup failed: {done.stderr.strip()[-2000:]}")


@dataclass
class ServiceProcess:
    role: str  # worker, relay
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @classmethod
    def start(cls, role: str, index: int, env: dict[str, str], logs: Path) -> ServiceProcess:
        log_path = logs / f"{role}-{index}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [str(AURORA), role, "dedup"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return cls(role, proc, log_path, log)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()

    def log_levels(self) -> dict[str, Any]:
        """Log lines per level, the messages of warnings and errors, and the first error
        each of those carried (a retried batch says why: a deadlock, a timeout...)."""
        counts: dict[str, Any] = {}
        first_errors: dict[str, str] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                counts["unparsed"] = counts.get("unparsed", 0) + 1
                continue
            level = str(entry.get("level", "?")).upper()
            counts[level] = counts.get(level, 0) + 1
            if level in ("WARNING", "ERROR", "CRITICAL"):
                key = f"{level}: {entry.get('message', entry.get('msg', '?'))}"
                counts[key] = counts.get(key, 0) + 1
                if "error" in entry:
                    first_errors.setdefault(key, str(entry["error"])[:300])
        if first_errors:
            counts["first_errors"] = first_errors
        return counts


def envelopes(records: Sequence[IngestRecord]) -> list[tuple[str, dict[Any, Any]]]:
    """(record id, stream entry) per record, serialised before any clock starts."""
    out = []
    for r in records:
        event = new_event(WORKOUT_INGESTED, producer="ingest", user_id=r.user_id, payload=r.payload)
        out.append(
            (str(r.record_id), entry_fields(str(event.id), event.type, event.model_dump_json()))
        )
    return out


@dataclass
class Published:
    at_ms: dict[str, int] = field(default_factory=dict)  # record id -> publish time
    last_entry: str = "0-0"
    max_lag_ms: float = 0.0  # how far a paced publisher fell behind its schedule


async def publish_all(
    redis: Redis, entries: Sequence[tuple[str, dict[Any, Any]]], chunk: int = 500
) -> Published:
    """Everything at once, pipelined as a relay writes a backlog."""
    published = Published()
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        pipe = redis.pipeline(transaction=False)
        for _, fields in part:
            pipe.xadd(INGEST_STREAM, fields)
        ids = await pipe.execute()
        for (record_id, _), entry_id in zip(part, ids, strict=True):
            published.at_ms[record_id] = stream_ms(entry_id)
        published.last_entry = _text(ids[-1])
    return published


async def publish_paced(
    redis: Redis, entries: Sequence[tuple[str, dict[Any, Any]]], rate: float
) -> Published:
    """One entry every 1/rate s on a fixed schedule; falling behind is measured, not hidden."""
    published = Published()
    start = time.monotonic() + 0.01
    for k, (record_id, fields) in enumerate(entries):
        due = start + k / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        published.max_lag_ms = max(published.max_lag_ms, (time.monotonic() - due) * 1000)
        entry_id = await redis.xadd(INGEST_STREAM, fields)
        published.at_ms[record_id] = stream_ms(entry_id)
        published.last_entry = _text(entry_id)
    return published


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def consumed_all(redis: Redis, conn: Any, last_entry: str) -> bool:
    """The group read past the last entry, acknowledged all, and the outbox is drained."""
    groups = await redis.xinfo_groups(INGEST_STREAM)
    group = next((g for g in groups if _text(g["name"]) == GROUP), None)
    if group is None or _id_tuple(_text(group["last-delivered-id"])) < _id_tuple(last_entry):
        return False
    if int(group["pending"]) > 0:
        return False
    unpublished = await conn.fetchval(
        f"SELECT count(*) FROM {SCHEMA}.outbox WHERE published_at IS NULL"
    )
    return int(unpublished) == 0


async def wait_until_consumed(
    redis: Redis, conn: Any, last_entry: str, timeout: float, procs: Sequence[ServiceProcess]
) -> None:
    deadline = time.monotonic() + timeout
    while not await consumed_all(redis, conn, last_entry):
        dead = [p.role for p in procs if not p.alive()]
        if dead:
            raise RuntimeError(f"service process(es) exited: {dead}; see their logs")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the dedup path did not drain within {timeout:.0f} s")
        await asyncio.sleep(0.1)


@dataclass
class Resolved:
    first_ms: dict[str, int] = field(default_factory=dict)  # record id -> first resolution
    resolved_events: int = 0
    other_events: dict[str, int] = field(default_factory=dict)
    last_entry: str = "0-0"


async def read_resolved(redis: Redis, after: str, wanted: set[str]) -> Resolved:
    """Every dedup.timeline entry after `after`; the first one naming each wanted record.

    `redis` is a client of make_redis, which decodes replies to str."""
    out = Resolved(last_entry=after)
    cursor = after
    while True:
        batch = await redis.xrange(RESOLVED_STREAM, min=f"({cursor}", count=2000)
        if not batch:
            return out
        for entry_id, fields in batch:
            cursor = _text(entry_id)
            kind = fields.get("type", "?")
            if kind != WORKOUT_RESOLVED:
                out.other_events[kind] = out.other_events.get(kind, 0) + 1
                continue
            out.resolved_events += 1
            payload = json.loads(fields["event"])["payload"]
            ms = stream_ms(cursor)
            for rid in (payload["primary"]["record_id"], *payload["duplicate_record_ids"]):
                if rid in wanted and rid not in out.first_ms:
                    out.first_ms[rid] = ms
        out.last_entry = cursor


async def last_entry_id(redis: Redis, stream: str) -> str:
    last = await redis.xrevrange(stream, count=1)
    return _text(last[0][0]) if last else "0-0"
