"""Draining the provider job queue: claim due jobs, run their handlers, record outcomes.

Outcomes are decided by what the handler raises, so a provider package never
touches the queue table: a rate limit re-queues the job for the moment the
window opens without spending an attempt (work waits, it is never lost), a
handler that made progress re-queues itself with its cursor, a dead
connection cancels, and anything else is retried with back-off until the
attempts run out, then kept as `failed` with its error for an operator.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from aurora_ingest.jobs.models import ProviderJob
from aurora_ingest.jobs.service import Job, JobCancelled, JobFailed, JobRescheduled
from aurora_ingest.providers.http import ProviderRateLimited

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.jobs")

JobHandler = Callable[["ProviderKit", Job], Awaitable[None]]
Handlers = Mapping[str, Mapping[str, JobHandler]]

RETRY_BASE_S = 30
RETRY_MAX_S = 3600


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after the n-th failed attempt, capped at an hour."""
    return timedelta(seconds=min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S))


async def _release_stale(session: AsyncSession, now: datetime, lease: timedelta) -> None:
    """Jobs of a worker that died mid-run go back to pending (or yield to a pending twin)."""
    stale = and_(ProviderJob.status == "running", ProviderJob.updated_at < now - lease)
    twin = aliased(ProviderJob)
    has_twin = exists().where(
        twin.provider == ProviderJob.provider,
        twin.kind == ProviderJob.kind,
        twin.key == ProviderJob.key,
        twin.status == "pending",
    )
    await session.execute(
        update(ProviderJob)
        .where(stale, has_twin)
        .values(status="cancelled", last_error="lease expired; a pending twin does the work")
    )
    await session.execute(
        update(ProviderJob).where(stale).values(status="pending", updated_at=now, not_before=now)
    )


async def _claim(session: AsyncSession, now: datetime, limit: int) -> list[Job]:
    due = (
        select(ProviderJob.id)
        .where(ProviderJob.status == "pending", ProviderJob.not_before <= now)
        .order_by(ProviderJob.not_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.scalars(
        update(ProviderJob)
        .where(ProviderJob.id.in_(due.scalar_subquery()))
        .values(status="running", updated_at=now)
        .returning(ProviderJob)
    )
    return [
        Job(
            id=row.id,
            provider=row.provider,
            kind=row.kind,
            key=row.key,
            user_id=row.user_id,
            connection_id=row.connection_id,
            payload=dict(row.payload),
            attempts=row.attempts,
        )
        for row in rows
    ]


async def _requeue(
    session: AsyncSession, job: Job, values: dict[str, Any], not_before: datetime
) -> None:
    """Back to pending; when a twin was queued meanwhile, the twin (due earlier) does it."""
    twin = await session.scalar(
        select(ProviderJob)
        .where(
            ProviderJob.provider == job.provider,
            ProviderJob.kind == job.kind,
            ProviderJob.key == job.key,
            ProviderJob.status == "pending",
        )
        .with_for_update()
    )
    if twin is not None:
        twin.not_before = min(twin.not_before, not_before)
        await _finish(session, job, status="cancelled", error="superseded by a newer request")
        return
    await session.execute(
        update(ProviderJob)
        .where(ProviderJob.id == job.id)
        .values(status="pending", not_before=not_before, updated_at=func.now(), **values)
    )


async def _finish(session: AsyncSession, job: Job, *, status: str, error: str | None) -> None:
    await session.execute(
        update(ProviderJob)
        .where(ProviderJob.id == job.id)
        .values(status=status, last_error=error, updated_at=func.now())
    )


async def _record_outcome(
    session: AsyncSession, job: Job, error: BaseException | None, now: datetime, max_attempts: int
) -> None:
    if error is None:
        await _finish(session, job, status="done", error=None)
    elif isinstance(error, ProviderRateLimited):
        await _requeue(session, job, {"last_error": "rate limited"}, max(error.retry_at, now))
    elif isinstance(error, JobRescheduled):
        payload = error.payload if error.payload is not None else job.payload
        await _requeue(session, job, {"payload": payload, "last_error": None}, error.not_before)
    elif isinstance(error, JobCancelled):
        await _finish(session, job, status="cancelled", error=str(error) or type(error).__name__)
    else:
        attempts = job.attempts + 1
        text = f"{type(error).__name__}: {error}"[:2000]
        if attempts >= max_attempts or isinstance(error, JobFailed):
            await _finish(session, job, status="failed", error=text)
            await session.execute(
                update(ProviderJob).where(ProviderJob.id == job.id).values(attempts=attempts)
            )
        else:
            await _requeue(
                session,
                job,
                {"attempts": attempts, "last_error": text},
                now + retry_delay(attempts),
            )


async def run_due_jobs(kit: ProviderKit, handlers: Handlers, *, limit: int | None = None) -> int:
    """One drain: how many jobs ran. Handlers run one at a time: the rate budget is the bound."""
    settings = kit.settings
    now = kit.clock()
    async with kit.sessions() as session, session.begin():
        await _release_stale(session, now, timedelta(seconds=settings.jobs_lease_s))
        jobs = await _claim(session, now, limit or settings.jobs_batch_size)
    for job in jobs:
        handler = handlers.get(job.provider, {}).get(job.kind)
        error: BaseException | None
        if handler is None:
            error = JobCancelled(f"no handler for {job.provider}.{job.kind}")
        else:
            try:
                await handler(kit, job)
                error = None
            except Exception as exc:  # every outcome is recorded; nothing escapes the drain
                error = exc
        if error is not None and not isinstance(error, (ProviderRateLimited, JobRescheduled)):
            log.warning(
                "provider job did not complete",
                extra={"job_kind": f"{job.provider}.{job.kind}", "error": repr(error)},
            )
        async with kit.sessions() as session, session.begin():
            await _record_outcome(session, job, error, kit.clock(), settings.jobs_max_attempts)
    return len(jobs)
