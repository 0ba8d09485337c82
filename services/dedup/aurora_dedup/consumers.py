"""Which streams the dedup worker reads, and the handler of each event type."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from redis.asyncio import Redis

from aurora_dedup.accounts import service as accounts
from aurora_dedup.config import get_settings
from aurora_dedup.health import service as health
from aurora_dedup.timeline import service
from aurora_dedup.timeline.batch import apply_workout_batch
from aurora_dedup.timeline.events import INGEST_STREAM, WORKOUT_INGESTED, WORKOUT_REMOVED
from aurora_shared.accounts import IDENTITY_STREAM
from aurora_shared.bus.erasure import redis_opener
from aurora_shared.service import Subscription


def _open_redis() -> AbstractAsyncContextManager[Redis]:
    # Settings are read when a purge runs, not when the subscriptions are listed.
    return redis_opener(get_settings().redis_url)()


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            INGEST_STREAM,
            {
                WORKOUT_INGESTED: service.apply_ingested,
                WORKOUT_REMOVED: service.apply_removed,
                **health.handlers(),
            },
            # The per-event handlers above serve the consumer's retry of a failing batch
            # one event at a time; a read batch goes to the batch handler in one call.
            batch_handlers={
                WORKOUT_INGESTED: apply_workout_batch,
                WORKOUT_REMOVED: apply_workout_batch,
            },
        ),
        Subscription(IDENTITY_STREAM, accounts.handlers(_open_redis)),
    ]
