"""Re-relays outbox rows when Redis lost its data.

Redis is only the transport. If it restarts without persistence, streams, groups
and pending lists are gone, including events that were relayed but not yet
consumed. Each producer keeps an epoch marker in Redis and the epoch it last saw
in its own `bus_state` table; a missing or foreign marker means Redis lost data,
and every row published within the retention window is queued for relaying
again. Consumers' inboxes absorb the duplicates, so replaying too much is safe
and replaying too little is impossible.
"""

from __future__ import annotations

import logging
import uuid

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_shared.bus.tables import checked_schema
from aurora_shared.metrics import BUS_REPLAYED

log = logging.getLogger("aurora.bus.reconciler")


def epoch_key(schema: str) -> str:
    return f"aurora:bus-epoch:{schema}"


class OutboxReconciler:
    def __init__(
        self, engine: AsyncEngine, redis: Redis, schema: str, *, service: str, window_s: int
    ) -> None:
        self.engine = engine
        self.redis = redis
        self.schema = checked_schema(schema)
        self.service = service
        self.window_s = window_s
        self._state_name = "redis_epoch"

    async def reconcile_once(self) -> int:
        """Returns how many outbox rows were queued for relaying again."""
        s = self.schema
        async with self.engine.begin() as conn:
            # One reconciler at a time per service; the lock dies with the transaction.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": epoch_key(s)}
            )
            seen = (
                await conn.execute(
                    text(f"SELECT value FROM {s}.bus_state WHERE name = :n"),
                    {"n": self._state_name},
                )
            ).scalar_one_or_none()
            current = await self.redis.get(epoch_key(s))
            if current is not None and _text(current) == seen:
                return 0
            if current is None:
                candidate = uuid.uuid4().hex
                if not await self.redis.set(epoch_key(s), candidate, nx=True):
                    current = await self.redis.get(epoch_key(s))
                current = candidate if current is None else current
            epoch = _text(current)
            replayed = 0
            if seen is not None:
                result = await conn.execute(
                    text(
                        f"UPDATE {s}.outbox SET published_at = NULL, stream_entry_id = NULL "
                        f"WHERE published_at IS NOT NULL "
                        f"AND published_at > now() - make_interval(secs => :w)"
                    ),
                    {"w": self.window_s},
                )
                replayed = int(getattr(result, "rowcount", 0) or 0)
            await conn.execute(
                text(
                    f"INSERT INTO {s}.bus_state (name, value) VALUES (:n, :v) "
                    f"ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
                ),
                {"n": self._state_name, "v": epoch},
            )
        if replayed:
            BUS_REPLAYED.labels(self.service).inc(replayed)
            log.warning("redis lost its data; re-relaying outbox rows", extra={"rows": replayed})
        return replayed

    async def prune_published(self) -> int:
        """Published rows older than the window can no longer be needed for a replay."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                text(
                    f"DELETE FROM {self.schema}.outbox WHERE published_at IS NOT NULL "
                    f"AND published_at < now() - make_interval(secs => :w)"
                ),
                {"w": self.window_s},
            )
        return int(getattr(result, "rowcount", 0) or 0)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
