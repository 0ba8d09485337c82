"""The WHOOP backfill: every workout, sleep and cycle since the last sync (or 90 days).

The job walks three collections in turn (workouts, sleeps, cycles), one page
per transaction, and its cursor (phase, nextToken, pages read, tokens seen)
lives in the job's payload. A 429, from WHOOP or from our own budget, re-queues
the job with the cursor it reached (JobRescheduled), so the sync resumes at the
page it stopped on: nothing is skipped and nothing is fetched twice. Every few
pages the job also re-queues itself at once, which saves the cursor against a
crash and lets other work through.

Cycles are not mapped here: each one queues a `cycle` job, which reads that
cycle's recovery and main sleep and stores the recovery and the daily view
(the same path a webhook takes), so the recovery collection is not walked.
The window's end is fixed when the backfill starts, so pages stay stable while
new data arrives; that moment becomes the connection's last_synced_at.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from aurora_ingest.connections.models import Connection
from aurora_ingest.connections.service import mark_synced
from aurora_ingest.jobs.service import Job, JobCancelled, JobRescheduled
from aurora_ingest.providers.http import ProviderRateLimited
from aurora_ingest.raw.service import store_raw
from aurora_ingest.whoop import store
from aurora_ingest.whoop.client import PROVIDER, FetchedPage, WhoopClient, following_token
from aurora_ingest.whoop.mapping import WhoopMappingError
from aurora_ingest.whoop.schemas import Cycle, Sleep, Workout

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.whoop.backfill")

PHASES: Final[tuple[str, ...]] = ("workouts", "sleeps", "cycles")
FIRST_SYNC = timedelta(days=90)
# Scores land hours after an activity; a later sync re-reads the last two days.
OVERLAP = timedelta(days=2)
CHECKPOINT_PAGES = 10


def initial_cursor(last_synced_at: datetime | None, now: datetime) -> dict[str, Any]:
    start = last_synced_at - OVERLAP if last_synced_at is not None else now - FIRST_SYNC
    return {
        "phase": PHASES[0],
        "next_token": None,
        "pages": 0,
        "seen": [],
        "start": start.isoformat(),
        "end": now.isoformat(),
    }


def advance(cursor: dict[str, Any], received: str | None, max_pages: int) -> dict[str, Any] | None:
    """The cursor after one page of the current phase; None when every phase is done."""
    sent = cursor["next_token"]
    seen = list(cursor["seen"])
    pages = int(cursor["pages"]) + 1
    following = following_token(sent, received, seen, collection=cursor["phase"])
    if following is not None and pages < max_pages:
        if sent is not None:
            seen.append(sent)
        return {**cursor, "next_token": following, "pages": pages, "seen": seen}
    if following is not None:
        log.warning("WHOOP backfill hit the page limit", extra={"collection": cursor["phase"]})
    position = PHASES.index(cursor["phase"]) + 1
    if position == len(PHASES):
        return None
    return {**cursor, "phase": PHASES[position], "next_token": None, "pages": 0, "seen": []}


def _valid_cursor(payload: dict[str, Any]) -> bool:
    return (
        payload.get("phase") in PHASES
        and isinstance(payload.get("start"), str)
        and isinstance(payload.get("end"), str)
        and isinstance(payload.get("pages"), int)
        and isinstance(payload.get("seen"), list)
    )


async def _store_page(session: AsyncSession, job: Job, phase: str, page: FetchedPage) -> int:
    """One page in one transaction; a record WHOOP sent malformed is skipped, not fatal."""
    raw_id = await store_raw(
        session,
        user_id=job.user_id,
        provider=PROVIDER,
        kind=f"{phase}_page",
        external_id=None,
        body=page.body,
    )
    skipped = 0
    for record in page.records:
        try:
            if phase == "workouts":
                workout = Workout.model_validate(record)
                await store.save_workout(session, job.user_id, workout, raw_id=raw_id)
            elif phase == "sleeps":
                sleep = Sleep.model_validate(record)
                await store.save_sleep(session, job.user_id, sleep, raw_id=raw_id)
            else:
                cycle = Cycle.model_validate(record)
                await store.queue_cycle(
                    session,
                    user_id=job.user_id,
                    connection_id=job.connection_id,
                    cycle_id=cycle.id,
                )
        except (ValidationError, WhoopMappingError) as exc:
            skipped += 1
            log.warning(
                "WHOOP record skipped", extra={"collection": phase, "error": type(exc).__name__}
            )
    return skipped


async def handle_backfill(kit: ProviderKit, job: Job) -> None:
    if job.connection_id is None:
        raise JobCancelled("backfill without a connection")
    cursor = dict(job.payload)
    if not _valid_cursor(cursor):
        async with kit.sessions() as session:
            connection = await session.get(Connection, job.connection_id)
            if connection is None or connection.status == "revoked":
                raise JobCancelled("connection is gone")
            cursor = initial_cursor(connection.last_synced_at, kit.clock())
    client = WhoopClient.for_connection(kit, job.connection_id)
    start = datetime.fromisoformat(cursor["start"])
    end = datetime.fromisoformat(cursor["end"])
    max_pages = kit.settings.sync_max_pages
    pages_this_run = 0
    while True:
        if pages_this_run >= CHECKPOINT_PAGES:
            raise JobRescheduled(kit.clock(), payload=cursor)
        try:
            page = await client.page(
                cursor["phase"], start=start, end=end, next_token=cursor["next_token"]
            )
        except ProviderRateLimited as exc:
            # Resume exactly here once the window opens; the runner spends no attempt.
            raise JobRescheduled(exc.retry_at, payload=cursor) from exc
        async with kit.sessions() as session, session.begin():
            await _store_page(session, job, cursor["phase"], page)
        pages_this_run += 1
        following = advance(cursor, page.next_token, max_pages)
        if following is None:
            break
        cursor = following
    async with kit.sessions() as session, session.begin():
        await mark_synced(session, job.connection_id, at=end)
