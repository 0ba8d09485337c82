"""Consumer-group reader with an inbox, reclaim and a dead-letter stream.

Guarantees, in the order a message meets them:
- the group is created at id 0 with MKSTREAM, so events written before the
  consumer first started are not skipped;
- on start (and after Redis lost the group) the consumer reads its own pending
  entries before new ones, so nothing it was handed before a crash is stranded;
- the handler's effects and the inbox row commit in one transaction; XACK comes
  only after that commit, so a crash anywhere means redelivery, and the inbox
  turns the redelivery into a no-op;
- entries idle in another (dead) consumer's PEL are taken over with XAUTOCLAIM;
- an entry delivered more than `max_deliveries` times goes to `<stream>.dlq`
  with its last error and is acknowledged, so one poison event cannot stall the
  stream. Infrastructure failures (database down) are retried in place and
  never count towards the dead-letter limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.faults import is_transient
from aurora_shared.config import BusSettings
from aurora_shared.logging import request_id_var
from aurora_shared.metrics import BUS_CONSUMED, BUS_DEAD_LETTERED, BUS_RECLAIMED

log = logging.getLogger("aurora.bus.consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
# Takes every fresh event of its types in a read batch at once, in stream order, so a
# service can share its per-event round trips (locks, lookups, writes) across the batch.
BatchHandler = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]
_MAX_ERROR_CHARS = 2000


def dlq_stream(stream: str) -> str:
    return f"{stream}.dlq"


def errors_key(stream: str, group: str) -> str:
    return f"{stream}.errors:{group}"


@dataclass
class Delivery:
    entry_id: str
    fields: dict[str, str]
    envelope: Envelope | None = None
    problem: str | None = None


def parse_entry(entry_id: str, fields: Mapping[str, str] | None) -> Delivery:
    delivery = Delivery(entry_id, dict(fields or {}))
    raw = delivery.fields.get("event")
    if raw is None:
        delivery.problem = "entry has no 'event' field"
        return delivery
    try:
        delivery.envelope = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]["msg"]
        delivery.problem = f"malformed envelope: {exc.error_count()} error(s): {first}"
    return delivery


class StreamConsumer:
    def __init__(
        self,
        *,
        redis: Redis,
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Table,
        stream: str,
        group: str,
        consumer: str,
        handlers: Mapping[str, Handler],
        settings: BusSettings,
        service: str,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
    ) -> None:
        """`batch_handlers` take precedence over `handlers` for their types. They run after
        the batch's per-event handlers, in the same transaction, so a type may be batched
        only when its effects commute with those of the per-event types it shares a
        stream with (different tables, as workouts and health records are)."""
        self.redis = redis
        self.sessionmaker = sessionmaker
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.handlers = dict(handlers)
        self.batch_handlers = dict(batch_handlers or {})
        self.settings = settings
        self.service = service
        self._stop = asyncio.Event()
        schema = inbox.schema
        self._claim_inbox = text(
            f"INSERT INTO {schema}.inbox (consumer_group, event_id, stream, event_type) "
            f"SELECT :grp, u.id, :stream, u.t "
            f"FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) AS u(id, t) "
            f"ON CONFLICT DO NOTHING RETURNING event_id"
        )

    # -- lifecycle -------------------------------------------------------------------

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        backoff = 0.1
        needs_setup = True
        last_claim = 0.0
        while not stop.is_set():
            try:
                if needs_setup:
                    await self.ensure_group()
                    await self.process_own_pending()
                    needs_setup = False
                if time.monotonic() - last_claim >= self.settings.claim_interval_s:
                    await self.reclaim()
                    last_claim = time.monotonic()
                await self.read_new()
                backoff = 0.1
            except ResponseError as exc:
                if not _group_lost(exc):
                    raise
                # Redis lost its data (restart without persistence, FLUSHALL, failover):
                # the group and PEL are gone.
                log.warning("consumer group missing; recreating", extra={"stream": self.stream})
                needs_setup = True
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("redis unavailable; retrying", extra={"stream": self.stream})
                needs_setup = True
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def read_new(self) -> int:
        response = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=self.settings.consumer_batch_size,
            block=self.settings.consumer_block_ms,
        )
        entries = _entries(response)
        if entries:
            await self.process(entries, redelivered=False)
        return len(entries)

    async def process_own_pending(self) -> int:
        """Read this consumer's PEL (id 0) to the end before taking new entries."""
        total = 0
        cursor = "0"
        while True:
            response = await self.redis.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: cursor},
                count=self.settings.consumer_batch_size,
            )
            entries = _entries(response)
            if not entries:
                return total
            await self.process(entries, redelivered=True)
            total += len(entries)
            cursor = entries[-1][0]

    async def reclaim(self) -> int:
        total = 0
        cursor = "0-0"
        while True:
            result = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=self.settings.claim_min_idle_ms,
                start_id=cursor,
                count=self.settings.consumer_batch_size,
            )
            cursor, entries = result[0], result[1]
            deleted = result[2] if len(result) > 2 else []
            # Redis 6.2 has no deleted list: it claims a vanished entry and answers a nil,
            # which has no id to process or acknowledge. Our next read of our own PEL
            # (restart) dead-letters it; here it must not crash the loop.
            vanished = sum(1 for e in entries if e[0] is None)
            entries = [e for e in entries if e[0] is not None]
            if deleted or vanished:
                # Trimming must never drop pending entries (XDEL or a foreign MAXLEN can):
                # such an event is lost to this group unless its outbox row is replayed.
                log.error(
                    "pending entries were trimmed",
                    extra={"ids": deleted[:20], "unnamed": vanished},
                )
            if entries:
                BUS_RECLAIMED.labels(self.service, self.stream, self.group).inc(len(entries))
                await self.process(entries, redelivered=True)
                total += len(entries)
            if cursor in ("0-0", b"0-0"):
                return total

    # -- processing ------------------------------------------------------------------

    async def process(self, entries: Sequence[tuple[str, Any]], *, redelivered: bool) -> None:
        deliveries = [parse_entry(entry_id, fields) for entry_id, fields in entries]
        if redelivered:
            deliveries = await self._drop_exhausted(deliveries)
        to_ack: list[str] = []
        relevant: list[Delivery] = []
        for d in deliveries:
            if d.problem is not None:
                # A malformed entry can never succeed: dead-letter it at once.
                await self.dead_letter(d, d.problem, deliveries=1)
            elif d.envelope is not None and (
                d.envelope.type in self.handlers or d.envelope.type in self.batch_handlers
            ):
                relevant.append(d)
            else:
                to_ack.append(d.entry_id)
        if to_ack:
            await self.ack(to_ack)
        if relevant:
            await self._apply(relevant)

    async def _apply(self, batch: list[Delivery]) -> None:
        backoff = 0.2
        while True:
            try:
                await self._transaction(batch)
            except Exception as exc:
                if is_transient(exc):
                    if self._stop.is_set():
                        return  # stays pending; redelivered after restart
                    log.warning("transient failure; retrying batch", extra={"error": repr(exc)})
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if len(batch) > 1:
                    # Find the culprit: everything else still commits.
                    for single in batch:
                        await self._apply([single])
                    return
                await self._record_failure(batch[0], exc)
                return
            await self._ack_committed([d.entry_id for d in batch])
            BUS_CONSUMED.labels(self.service, self.stream, self.group, "ok").inc(len(batch))
            return

    async def _transaction(self, batch: list[Delivery]) -> None:
        envelopes = [d.envelope for d in batch if d.envelope is not None]
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                self._claim_inbox,
                {
                    "grp": self.group,
                    "stream": self.stream,
                    "ids": [e.id for e in envelopes],
                    "types": [e.type for e in envelopes],
                },
            )
            fresh = {row[0] for row in result}
            batched: dict[BatchHandler, list[Envelope]] = {}
            for envelope in envelopes:
                if envelope.id not in fresh:
                    continue  # already applied: a redelivery, or a duplicate in this batch
                fresh.discard(envelope.id)
                batch_handler = self.batch_handlers.get(envelope.type)
                if batch_handler is not None:
                    batched.setdefault(batch_handler, []).append(envelope)
                    continue
                token = request_id_var.set(envelope.request_id)
                try:
                    await self.handlers[envelope.type](session, envelope)
                    # DEBUG, not INFO: a JSON line per event took a third of the worker's
                    # CPU in bench/bus.py (2,670 events/s without it, ~1,700 with it).
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug(
                            "event handled",
                            extra={"event_id": str(envelope.id), "type": envelope.type},
                        )
                finally:
                    request_id_var.reset(token)
            for batch_handler, group in batched.items():
                token = request_id_var.set(batch_request_id(group))
                try:
                    await batch_handler(session, group)
                finally:
                    request_id_var.reset(token)

    async def _ack_committed(self, entry_ids: list[str]) -> None:
        try:
            await self.ack(entry_ids)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            # Committed but not acknowledged: redelivery is absorbed by the inbox.
            log.warning("ack failed after commit; entries will be redelivered")

    async def ack(self, entry_ids: list[str]) -> None:
        """Seam for fault tests: a crash before this call is 'committed, not acked'."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.stream, self.group, *entry_ids)
        pipe.hdel(errors_key(self.stream, self.group), *entry_ids)
        await pipe.execute()

    async def _record_failure(self, delivery: Delivery, exc: Exception) -> None:
        BUS_CONSUMED.labels(self.service, self.stream, self.group, "error").inc()
        message = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
        log.error(
            "handler failed; entry stays pending",
            extra={"entry_id": delivery.entry_id, "error": message},
        )
        await cast(
            Awaitable[int],
            self.redis.hset(errors_key(self.stream, self.group), delivery.entry_id, message),
        )

    async def _drop_exhausted(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Dead-letter the entries that were already delivered too often."""
        if not deliveries:
            return deliveries
        pending = await self.redis.xpending_range(
            self.stream,
            self.group,
            min=deliveries[0].entry_id,
            max=deliveries[-1].entry_id,
            count=len(deliveries) * 4 + 10,
            consumername=self.consumer,
        )
        counts = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        keep: list[Delivery] = []
        for d in deliveries:
            times = counts.get(d.entry_id, 1)
            if times > self.settings.max_deliveries:
                error = await cast(
                    Awaitable[str | None],
                    self.redis.hget(errors_key(self.stream, self.group), d.entry_id),
                )
                await self.dead_letter(
                    d, _text(error) if error else "delivery limit reached", deliveries=times
                )
            else:
                keep.append(d)
        return keep

    async def dead_letter(self, delivery: Delivery, error: str, *, deliveries: int) -> None:
        fields: dict[Any, Any] = dict(delivery.fields)
        fields.update(
            {
                "original_id": delivery.entry_id,
                "original_stream": self.stream,
                "group": self.group,
                "consumer": self.consumer,
                "deliveries": str(deliveries),
                "error": error[:_MAX_ERROR_CHARS],
                "failed_at": datetime.now(UTC).isoformat(),
            }
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(dlq_stream(self.stream), fields)
        pipe.xack(self.stream, self.group, delivery.entry_id)
        pipe.hdel(errors_key(self.stream, self.group), delivery.entry_id)
        await pipe.execute()
        BUS_DEAD_LETTERED.labels(self.service, self.stream, self.group).inc()
        log.error(
            "event dead-lettered",
            extra={"entry_id": delivery.entry_id, "stream": self.stream, "error": error[:200]},
        )


def batch_request_id(envelopes: Sequence[Envelope], most: int = 20) -> str | None:
    """The request ids a batch carries, so a batch handler's log lines still lead back to
    the requests behind it: the one id when they share it, else the first `most`, joined."""
    ids = list(dict.fromkeys(e.request_id for e in envelopes if e.request_id))
    if not ids:
        return None
    shown = ",".join(ids[:most])
    return shown if len(ids) <= most else f"{shown},+{len(ids) - most} more"


def _group_lost(exc: ResponseError) -> bool:
    """NOGROUP, or Redis 7's UNBLOCKED for a read blocked on a stream that was deleted."""
    message = str(exc)
    return "NOGROUP" in message or message.startswith("UNBLOCKED")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(response: Any) -> list[tuple[str, Any]]:
    if not response:
        return []
    # redis-py answers a list of [stream, entries] (RESP2) or a dict (RESP3).
    if isinstance(response, dict):
        return [e for entries in response.values() for e in (entries[0] if entries else [])]
    return [e for _stream, entries in response for e in entries]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
