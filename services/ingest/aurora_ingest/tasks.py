"""The ingest `tasks` process (arq): drains the provider job queue, prunes old jobs.

The queue itself lives in PostgreSQL (jobs/), so arq only supplies the clock:
a drain every few seconds, unique per slot, so several tasks processes share
the work through SKIP LOCKED instead of racing over it.
Run with `python -m aurora_ingest tasks`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from arq import cron
from sqlalchemy import delete

from aurora_ingest.apple.jobs import HANDLERS as APPLE_HANDLERS
from aurora_ingest.config import get_settings
from aurora_ingest.jobs.models import ProviderJob
from aurora_ingest.jobs.runner import Handlers, run_due_jobs
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.strava.jobs import HANDLERS as STRAVA_HANDLERS
from aurora_ingest.uploads.jobs import HANDLERS as UPLOAD_HANDLERS
from aurora_ingest.whoop.jobs import HANDLERS as WHOOP_HANDLERS
from aurora_shared.service import Runtime, run_arq_tasks

log = logging.getLogger("aurora.ingest.tasks")

QUEUE_NAME = "aurora:ingest:arq"
HANDLERS: Handlers = {
    "strava": STRAVA_HANDLERS,
    "whoop": WHOOP_HANDLERS,
    "upload": {**UPLOAD_HANDLERS, **APPLE_HANDLERS},
}
# Finished jobs are kept this long for operators, then dropped.
JOB_RETENTION = timedelta(days=7)


async def drain(kit: ProviderKit) -> int:
    """Every due job, batch after batch, until none is due."""
    total = 0
    while ran := await run_due_jobs(kit, HANDLERS):
        total += ran
    return total


async def prune_jobs(kit: ProviderKit) -> int:
    async with kit.sessions() as session, session.begin():
        result = await session.execute(
            delete(ProviderJob).where(
                ProviderJob.status.in_(("done", "cancelled")),
                ProviderJob.updated_at < kit.clock() - JOB_RETENTION,
            )
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def drain_jobs(ctx: dict[str, Any]) -> int:
    ran = await drain(ctx["kit"])
    if ran:
        log.info("provider jobs ran", extra={"jobs": ran})
    return ran


async def prune_old_jobs(ctx: dict[str, Any]) -> int:
    return await prune_jobs(ctx["kit"])


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    runtime = Runtime.open(settings, pre_ping=True)
    ctx["runtime"] = runtime
    ctx["kit"] = ProviderKit.build(settings, runtime.sessionmaker, runtime.redis)


async def shutdown(ctx: dict[str, Any]) -> None:
    kit: ProviderKit | None = ctx.get("kit")
    if kit is not None:
        await kit.aclose()
    runtime: Runtime | None = ctx.get("runtime")
    if runtime is not None:
        await runtime.close()


class WorkerSettings:
    functions = [drain_jobs, prune_old_jobs]
    cron_jobs = [
        cron(drain_jobs, second=set(range(0, 60, 5)), run_at_startup=True, timeout=3600),
        cron(prune_old_jobs, hour=3, minute=41),
    ]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = QUEUE_NAME
    max_jobs = 1


def run() -> None:
    """Entry point of the `tasks` process role."""
    run_arq_tasks(WorkerSettings, get_settings())
