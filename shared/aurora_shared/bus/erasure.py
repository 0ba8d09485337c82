"""Erasing one user's events from a producer's outbox and streams (DESIGN.md §2, checklist 46).

Events carry personal data, so a purge must not leave them readable in Redis
until retention trims them. Two passes, because neither alone is enough:

- the outbox rows of the user are deleted, and the stream entries the relay
  recorded for them (`stream_entry_id`) are XDELed; deleting the rows also keeps
  the reconciler from relaying them again after a Redis data loss;
- a bounded XRANGE sweep of the streams and their dead-letter streams deletes
  entries whose envelope names the user: dead letters and replays are copies
  with ids the outbox never saw, and published rows are pruned from the outbox
  after retention.

The sweep is bounded (`scan_limit` entries per stream); what lies beyond it is
older than the retention window the trimmer enforces anyway.

Events with no `user_id` on the envelope (audit records, which must outlive an
erasure) are never touched.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.consumer import dlq_stream
from aurora_shared.bus.runtime import make_redis
from aurora_shared.bus.streamids import next_id

log = logging.getLogger("aurora.bus.erasure")

RedisOpener = Callable[[], AbstractAsyncContextManager[Redis]]
DEFAULT_SCAN_LIMIT = 200_000
_XDEL_CHUNK = 500


def redis_opener(url: str) -> RedisOpener:
    """A connection per use: purges are rare, and a worker needs no pool kept for them."""

    @asynccontextmanager
    async def open_redis() -> AsyncIterator[Redis]:
        client = make_redis(url)
        try:
            yield client
        finally:
            await client.aclose()

    return open_redis


def borrowed_redis(client: Redis) -> RedisOpener:
    """An opener over a client someone else owns (and closes): tests, in-process runners."""

    @asynccontextmanager
    async def open_redis() -> AsyncIterator[Redis]:
        yield client

    return open_redis


@dataclass(frozen=True)
class ErasureReport:
    outbox_rows: int
    stream_entries: int
    # True when a sweep stopped at its scan limit before the end of a stream.
    truncated: bool


async def erase_user_events(
    session: AsyncSession,
    redis: Redis,
    outbox: Table,
    streams: Sequence[str],
    user_id: uuid.UUID,
    *,
    scan_limit: int = DEFAULT_SCAN_LIMIT,
    batch: int = 1000,
) -> ErasureReport:
    """Delete the user's outbox rows (in the caller's transaction) and stream entries.

    DELETE ... RETURNING waits for a relay holding a row lock and returns the
    entry id the relay committed, so a row published concurrently is not missed.
    The Redis deletions happen at once, before the caller commits: if the
    transaction then rolls back, the event is redelivered and the erasure runs again.
    """
    result = await session.execute(
        delete(outbox)
        .where(outbox.c.user_id == user_id)
        .returning(outbox.c.stream, outbox.c.stream_entry_id)
    )
    recorded: dict[str, list[str]] = {}
    rows = 0
    for stream, entry_id in result:
        rows += 1
        if entry_id:
            recorded.setdefault(stream, []).append(entry_id)
    removed = 0
    for stream, ids in recorded.items():
        removed += await _xdel(redis, stream, ids)
    truncated = False
    for stream in streams:
        for name in (stream, dlq_stream(stream)):
            count, cut = await sweep_stream(
                redis, name, user_id, scan_limit=scan_limit, batch=batch
            )
            removed += count
            truncated = truncated or cut
    if truncated:
        log.warning(
            "stream sweep stopped at its scan limit; retention trimming removes the rest",
            extra={"user_id": str(user_id), "scan_limit": scan_limit},
        )
    return ErasureReport(outbox_rows=rows, stream_entries=removed, truncated=truncated)


async def sweep_stream(
    redis: Redis, stream: str, user_id: uuid.UUID, *, scan_limit: int, batch: int = 1000
) -> tuple[int, bool]:
    """XDEL the entries of `stream` whose envelope belongs to the user; (deleted, truncated)."""
    needle = str(user_id)
    cursor = "-"
    scanned = 0
    removed = 0
    while scanned < scan_limit:
        want = min(batch, scan_limit - scanned)
        entries = await redis.xrange(stream, min=cursor, max="+", count=want)
        if not entries:
            return removed, False
        doomed = [_text(eid) for eid, fields in entries if belongs_to(fields, needle)]
        if doomed:
            removed += await _xdel(redis, stream, doomed)
        scanned += len(entries)
        if len(entries) < want:
            return removed, False
        cursor = next_id(_text(entries[-1][0]))
    return removed, True


def belongs_to(fields: Mapping[Any, Any] | None, user_id: str) -> bool:
    """Whether a stream entry's envelope names this user (by its `user_id`, not its text)."""
    if not fields:
        return False
    raw = fields.get("event", fields.get(b"event"))
    if raw is None:
        return False
    text = _text(raw)
    if user_id not in text:  # cheap pre-filter: most entries are someone else's
        return False
    try:
        envelope = json.loads(text)
    except ValueError:
        # Unparseable but naming the user: erring on the side of erasure.
        return True
    return isinstance(envelope, dict) and str(envelope.get("user_id")) == user_id


async def _xdel(redis: Redis, stream: str, ids: Sequence[str]) -> int:
    removed = 0
    for start in range(0, len(ids), _XDEL_CHUNK):
        removed += int(await redis.xdel(stream, *ids[start : start + _XDEL_CHUNK]))
    return removed


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
