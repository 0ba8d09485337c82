"""Where a workout.ingested event's time goes, measured in-process (py-spy is not installed).

Runs the worker's own workout.ingested handler (the one dedup subscribes: a batch handler
when it has one, else the per-event handler) on benchmark events in batches of the
consumer's size, one transaction per batch as the consumer commits them, under cProfile,
and counts every SQL statement by kind with the time spent waiting for it. The inbox
insert and XACK of the consumer are not included: they are one statement per batch.
The profile counts this process's CPU time, not wall time: on a shared 2-core machine a
wall-clock profile charges other processes' time to whatever call was running
(socket.send above all).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event

from aurora_shared.bus.consumer import BatchHandler, Handler
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.db import make_engine, make_sessionmaker
from bench.dedup_data import IngestRecord
from bench.dedup_service_io import INGEST_STREAM, WORKOUT_INGESTED

_WORDS = re.compile(r"\s+")


def statement_kind(sql: str) -> str:
    """A short, stable label for a statement: verb and table (or function)."""
    text = _WORDS.sub(" ", sql).strip()
    upper = text.upper()
    if "PG_ADVISORY_XACT_LOCK" in upper:
        return "SELECT pg_advisory_xact_lock (user lock)"
    for verb, marker in (("INSERT", " INTO "), ("UPDATE", "UPDATE "), ("DELETE", " FROM ")):
        if upper.startswith(verb):
            return f"{verb} {text[upper.index(marker) + len(marker) :].split(' ')[0]}"
    if upper.startswith("SELECT"):
        table = re.search(r" (?:FROM|JOIN) ([A-Za-z_][\w.]*)", text, re.IGNORECASE)
        suffix = " FOR UPDATE" if upper.endswith("FOR UPDATE") else ""
        return f"SELECT {table.group(1) if table else '?'}{suffix}"
    return text[:40]


_BUCKETS = (
    ("aurora_dedup/resolution", "dedup resolution core (pure rules)"),
    ("aurora_dedup", "dedup service code"),
    ("aurora_shared", "aurora_shared (bus, accounts)"),
    ("sqlalchemy", "SQLAlchemy (statements, ORM, flush)"),
    ("greenlet", "SQLAlchemy (statements, ORM, flush)"),
    ("asyncpg", "asyncpg"),
    ("asyncio", "asyncio event loop and sockets"),
    ("selectors", "asyncio event loop and sockets"),
    ("pydantic", "pydantic"),
    ("json", "json"),
    ("logging", "logging"),
)


def cpu_by_library(stats: pstats.Stats) -> dict[str, float]:
    """Share of the profiled CPU per library, from own times (which, unlike cumulative
    times of coroutines, add up exactly). C calls count where their name says they are."""
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    shares: Counter[str] = Counter()
    for (filename, _line, function), (_cc, _nc, own, *_rest) in raw.items():
        where = f"{filename} {function}"
        bucket = next((b for key, b in _BUCKETS if key in where), None)
        if bucket is None:
            socket_call = "socket" in where or "epoll" in where
            bucket = "asyncio event loop and sockets" if socket_call else "other (builtins...)"
        shares[bucket] += own
    total = sum(shares.values()) or 1.0
    return {k: round(v / total, 3) for k, v in shares.most_common()}


def _workout_handlers() -> tuple[Handler, BatchHandler | None]:
    """What `aurora worker dedup` calls for workout.ingested, looked up as it does."""
    from aurora_dedup.consumers import subscriptions

    ingest = next(s for s in subscriptions() if s.stream == INGEST_STREAM)
    batched: dict[str, BatchHandler] = getattr(ingest, "batch_handlers", {})
    return ingest.handlers.get(WORKOUT_INGESTED, _missing), batched.get(WORKOUT_INGESTED)


async def _missing(_session: Any, event: Envelope) -> None:
    raise RuntimeError(f"dedup has no handler for {event.type}")


def _events(load: Sequence[IngestRecord]) -> list[Envelope]:
    return [
        new_event(WORKOUT_INGESTED, producer="ingest", user_id=r.user_id, payload=r.payload)
        for r in load
    ]


async def profile_handler(
    database_url: str,
    load: Sequence[IngestRecord],
    profiled_load: Sequence[IngestRecord],
    batch: int,
    top: int = 25,
) -> dict[str, Any]:
    """`load` runs plain (its time and statements are the figures); `profiled_load`, the
    same kind of records for other users, runs under cProfile, which slows it several-fold."""
    handler, batch_handler = _workout_handlers()

    engine = make_engine(database_url, pool_size=1)
    sessionmaker = make_sessionmaker(engine)
    counts: Counter[str] = Counter()
    waits: dict[str, float] = {}
    started_at: list[float] = []

    def before(*args: Any) -> None:
        started_at.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        kind = statement_kind(statement)
        counts[kind] += 1
        waits[kind] = waits.get(kind, 0.0) + time.perf_counter() - started_at.pop()

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    events = _events(load)
    profiler = cProfile.Profile(time.process_time)

    async def apply(envelopes: Sequence[Envelope]) -> None:
        for start in range(0, len(envelopes), batch):
            async with sessionmaker() as session, session.begin():
                chunk = list(envelopes[start : start + batch])
                if batch_handler is not None:
                    await batch_handler(session, chunk)
                    continue
                for envelope in chunk:
                    await handler(session, envelope)

    try:
        async with engine.connect():  # open the pool before the clock starts
            pass
        t0, cpu0 = time.perf_counter(), time.process_time()
        await apply(events)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        event.remove(engine.sync_engine, "before_cursor_execute", before)
        event.remove(engine.sync_engine, "after_cursor_execute", after)
        profiled = _events(profiled_load)
        profiler.enable()
        await apply(profiled)
        profiler.disable()
    finally:
        await engine.dispose()
    n = len(events)
    transactions = -(-n // batch)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    by_library = cpu_by_library(stats)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(r"aurora_|sqlalchemy/orm/session", top)
    return {
        "events": n,
        "batch": batch,
        "wall_s": round(wall, 3),
        "events_per_s": round(n / wall, 1),
        "ms_per_event": round(wall / n * 1000, 3),
        "cpu_ms_per_event": round(cpu / n * 1000, 3),
        "profiled_events": len(profiled),
        "statements_per_event": round(sum(counts.values()) / n, 2),
        "sql_wait_share": round(sum(waits.values()) / wall, 3),
        "statements": {
            kind: {
                "per_event": round(c / n, 3),
                "per_transaction": round(c / transactions, 2),
                "ms_per_event": round(waits[kind] / n * 1000, 3),
            }
            for kind, c in counts.most_common()
        },
        "cpu_by_library": by_library,
        "cprofile": _trim(text.getvalue()),
    }


def _trim(report: str) -> str:
    """pstats prints absolute paths; the site-packages prefix is noise in a report."""
    return re.sub(r"/\S*?/(site-packages|services/dedup|shared)/", r"\1/", report)
