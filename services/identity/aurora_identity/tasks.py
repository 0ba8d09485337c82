"""Scheduled jobs of identity (arq): the hourly erasure purge.

Run with `python -m aurora_identity tasks`. Every run purges in batches, one
transaction per batch, until no expired account is left; `purge_expired_accounts`
is also callable directly (the tests do).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.config import IdentitySettings, get_settings
from aurora_identity.gdpr.purge import purge_expired_accounts
from aurora_identity.throttle import service as throttle
from aurora_shared.service import Runtime, run_arq_tasks

log = logging.getLogger("aurora.identity.tasks")

QUEUE_NAME = "aurora:identity:arq"


async def purge_once(
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    now: datetime | None = None,
) -> int:
    """All expired accounts, batch by batch; also forgets stale login counters."""
    now = now or datetime.now(UTC)
    grace = timedelta(days=settings.erasure_grace_days)
    total = 0
    while True:
        async with sessions() as session, session.begin():
            purged = await purge_expired_accounts(
                session,
                now,
                grace,
                limit=settings.purge_batch_size,
                producer=settings.service_name,
                throttle_secret=settings.login_throttle_secret,
            )
        total += len(purged)
        if len(purged) < settings.purge_batch_size:
            break
    async with sessions() as session, session.begin():
        pruned = await throttle.prune(session, throttle.policy_of(settings), now)
    log.info("purge finished", extra={"purged": total, "throttle_rows_pruned": pruned})
    return total


async def purge_accounts(ctx: dict[str, Any]) -> int:
    runtime: Runtime = ctx["runtime"]
    settings: IdentitySettings = ctx["settings"]
    return await purge_once(runtime.sessionmaker, settings)


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    ctx["settings"] = settings
    ctx["runtime"] = Runtime.open(settings, pre_ping=True)


async def shutdown(ctx: dict[str, Any]) -> None:
    runtime: Runtime | None = ctx.get("runtime")
    if runtime is not None:
        await runtime.close()


class WorkerSettings:
    """Hourly, and once at start so a worker down for a while catches up at once.
    arq's unique cron job ids keep several workers from running one slot twice; the
    purge's SKIP LOCKED keeps overlapping runs from purging one account twice."""

    functions = [purge_accounts]
    cron_jobs = [cron(purge_accounts, minute=17, run_at_startup=True, timeout=3600)]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = QUEUE_NAME
    max_jobs = 1


def run() -> None:
    """Entry point of the `tasks` process role."""
    run_arq_tasks(WorkerSettings, get_settings())
