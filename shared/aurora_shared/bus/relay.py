"""Moves outbox rows to Redis Streams.

Rows are locked with FOR UPDATE SKIP LOCKED, so several relays of one service can
run side by side without publishing a row twice in the normal case. A crash after
XADD and before the commit republishes the batch: that is the at-least-once
half of the contract, and every consumer's inbox makes it harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_shared.bus.tables import checked_schema, notify_channel
from aurora_shared.config import asyncpg_url
from aurora_shared.metrics import BUS_PUBLISHED

log = logging.getLogger("aurora.bus.relay")


def entry_fields(event_id: str, event_type: str, envelope: str) -> dict[Any, Any]:
    """The stream entry: the envelope verbatim plus the two fields operators grep for."""
    return {"event_id": event_id, "type": event_type, "event": envelope}


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: Redis,
        schema: str,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        linger_s: float = 0.0,
    ) -> None:
        self.engine = engine
        self.redis = redis
        self.schema = checked_schema(schema)
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.linger_s = linger_s
        self._wake = asyncio.Event()
        self._select = text(
            f"SELECT id, event_id::text AS event_id, stream, event_type, envelope "
            f"FROM {self.schema}.outbox WHERE published_at IS NULL "
            f"ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
        )
        self._mark = text(
            f"UPDATE {self.schema}.outbox AS o SET published_at = now(), "
            f"stream_entry_id = m.entry_id "
            f"FROM unnest(CAST(:ids AS bigint[]), CAST(:entry_ids AS text[])) AS m(id, entry_id) "
            f"WHERE o.id = m.id"
        )

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows it published."""
        async with self.engine.begin() as conn:
            rows = (await conn.execute(self._select, {"limit": self.batch_size})).all()
            if not rows:
                return 0
            pipe = self.redis.pipeline(transaction=False)
            for row in rows:
                pipe.xadd(row.stream, entry_fields(row.event_id, row.event_type, row.envelope))
            entry_ids = await pipe.execute()
            await self.before_mark_published()
            await conn.execute(
                self._mark,
                {
                    "ids": [row.id for row in rows],
                    "entry_ids": [_text(e) for e in entry_ids],
                },
            )
        for row in rows:
            BUS_PUBLISHED.labels(self.service, row.stream).inc()
        return len(rows)

    async def before_mark_published(self) -> None:
        """Seam for fault tests: a crash here is the 'published but not marked' case."""

    async def drain(self) -> int:
        total = 0
        while n := await self.publish_batch():
            total += n
            if n < self.batch_size:
                break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        try:
            while not stop.is_set():
                # Cleared before the batch, not after: a NOTIFY for a row committed while
                # the batch ran must wake the next pass, not wait for the poll interval.
                self._wake.clear()
                try:
                    published = await self.publish_batch()
                except Exception:  # Redis or PostgreSQL away: keep the rows, retry later.
                    log.exception("relay batch failed; retrying")
                    published = 0
                    await _sleep_or_stop(stop, self.poll_interval_s)
                    continue
                if published >= self.batch_size:
                    continue
                await _wait_any(stop, self._wake, self.poll_interval_s)
                if self.linger_s and self._wake.is_set():
                    # Woken by one commit: let the commits right behind it join the batch.
                    # Events trickling in one per transaction otherwise cost a whole
                    # relay transaction (and a consumer transaction) each.
                    await _sleep_or_stop(stop, self.linger_s)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN for inserts; on any failure the poll interval still drives the relay."""
        channel = notify_channel(self.schema)
        while not stop.is_set():
            conn: Any = None
            try:
                conn = await asyncpg.connect(asyncpg_url(_plain_url(self.engine)))
                await conn.add_listener(channel, lambda *_: self._wake.set())
                while not conn.is_closed():
                    if await _stopped_within(stop, self.poll_interval_s):
                        return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox LISTEN connection lost; polling until it is back")
                await _sleep_or_stop(stop, self.poll_interval_s)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _plain_url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    await _stopped_within(stop, seconds)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
