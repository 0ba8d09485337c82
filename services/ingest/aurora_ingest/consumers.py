"""Which streams the ingest worker reads, and the handler of each event type."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from redis.asyncio import Redis

from aurora_ingest.accounts import service as accounts
from aurora_ingest.config import get_settings
from aurora_shared.accounts import IDENTITY_STREAM
from aurora_shared.bus.erasure import redis_opener
from aurora_shared.service import Subscription


def _open_redis() -> AbstractAsyncContextManager[Redis]:
    # Settings are read when a purge runs, not when the subscriptions are listed.
    return redis_opener(get_settings().redis_url)()


def subscriptions() -> list[Subscription]:
    return [Subscription(IDENTITY_STREAM, accounts.handlers(_open_redis))]
