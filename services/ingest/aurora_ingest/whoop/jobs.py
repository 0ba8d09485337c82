"""WHOOP job handlers: what a webhook or a sync asked for, fetched and stored.

A webhook only says "look at this object"; the handler fetches it with the
owner's token and stores what the API answers. A 404 on a fetch means WHOOP no
longer has the object: unlike Strava's unsigned events, WHOOP's are signed and
its API is the authority, so the record is removed.

Sleep and recovery events lead to the cycle they belong to: the `cycle` job
re-reads the cycle, its recovery (404 = not scored yet) and its main sleep, and
stores the recovery and the merged daily view. A recovery event names its
sleep (v2 webhooks identify a recovery by its sleep's UUID), so it is handled
exactly like that sleep's update. Outcomes other than success are exceptions the
runner maps (rate limit → later, unusable connection → cancelled, else retried).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from aurora_ingest.jobs.runner import JobHandler
from aurora_ingest.jobs.service import Job, JobCancelled
from aurora_ingest.providers.http import ProviderNotFound
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.whoop import store
from aurora_ingest.whoop.backfill import handle_backfill
from aurora_ingest.whoop.client import WhoopClient
from aurora_ingest.whoop.mapping import (
    daily_external_id,
    recovery_external_id,
    sleep_external_id,
    utc,
    workout_external_id,
)
from aurora_ingest.whoop.schemas import Cycle

log = logging.getLogger("aurora.ingest.whoop.jobs")


def object_id(job: Job) -> uuid.UUID:
    """The WHOOP UUID a job is about; a job naming none can never succeed."""
    raw = job.payload.get("id") or job.key.rpartition(":")[2]
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise JobCancelled(f"job names no WHOOP object id: {raw!r}") from exc


def client_for(kit: ProviderKit, job: Job) -> WhoopClient:
    if job.connection_id is None:
        raise JobCancelled("job has no connection")
    return WhoopClient.for_connection(kit, job.connection_id)


async def containing_cycle(client: WhoopClient, start: datetime, end: datetime) -> int | None:
    """The cycle a workout happened in (its strain counts towards that day), if WHOOP has one."""
    page = await client.page("cycles", start=start, end=end, limit=5)
    moment = utc(start)
    for record in page.records:
        try:
            cycle = Cycle.model_validate(record)
        except ValidationError:
            continue
        if utc(cycle.start) <= moment and (cycle.end is None or moment < utc(cycle.end)):
            return cycle.id
    return None


async def handle_workout(kit: ProviderKit, job: Job) -> None:
    workout_id = object_id(job)
    client = client_for(kit, job)
    try:
        fetched = await client.workout(workout_id)
    except ProviderNotFound:
        async with kit.sessions() as session, session.begin():
            await store.remove(session, job.user_id, workout_external_id(workout_id))
        return
    workout = fetched.item
    cycle_id = await containing_cycle(client, workout.start, workout.end)
    async with kit.sessions() as session, session.begin():
        await store.save_workout(session, job.user_id, workout, body=fetched.body)
        if cycle_id is not None:
            await store.queue_cycle(
                session, user_id=job.user_id, connection_id=job.connection_id, cycle_id=cycle_id
            )


async def handle_sleep(kit: ProviderKit, job: Job) -> None:
    """sleep.updated and recovery.updated: store the sleep, then re-derive its cycle."""
    sleep_id = object_id(job)
    client = client_for(kit, job)
    try:
        fetched = await client.sleep(sleep_id)
    except ProviderNotFound:
        await _forget_sleep(kit, job, sleep_id)
        return
    sleep = fetched.item
    async with kit.sessions() as session, session.begin():
        await store.save_sleep(session, job.user_id, sleep, body=fetched.body)
        # A nap neither starts a cycle nor earns a recovery: no day to re-derive.
        if sleep.cycle_id is not None and not sleep.nap:
            await store.queue_cycle(
                session,
                user_id=job.user_id,
                connection_id=job.connection_id,
                cycle_id=sleep.cycle_id,
            )


async def handle_cycle(kit: ProviderKit, job: Job) -> None:
    try:
        cycle_id = int(job.payload["cycle_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise JobCancelled("cycle job without a cycle id") from exc
    client = client_for(kit, job)
    try:
        cycle = await client.cycle(cycle_id)
    except ProviderNotFound:
        async with kit.sessions() as session, session.begin():
            await store.remove(session, job.user_id, daily_external_id(cycle_id))
        return
    recovery = await client.recovery_for_cycle(cycle_id)
    sleep = await client.sleep_for_cycle(cycle_id)
    async with kit.sessions() as session, session.begin():
        await store.save_cycle(session, job.user_id, cycle, recovery, sleep)


async def _forget_sleep(kit: ProviderKit, job: Job, sleep_id: uuid.UUID) -> None:
    """A deleted sleep takes its recovery with it (WHOOP deletes both); the day is re-derived."""
    async with kit.sessions() as session, session.begin():
        cycle_id = await store.stored_cycle_id(session, job.user_id, sleep_external_id(sleep_id))
        await store.remove(session, job.user_id, sleep_external_id(sleep_id))
        await store.remove(session, job.user_id, recovery_external_id(sleep_id))
        if cycle_id is not None:
            await store.queue_cycle(
                session, user_id=job.user_id, connection_id=job.connection_id, cycle_id=cycle_id
            )


async def handle_workout_deleted(kit: ProviderKit, job: Job) -> None:
    workout_id = object_id(job)
    async with kit.sessions() as session, session.begin():
        await store.remove(session, job.user_id, workout_external_id(workout_id))


async def handle_sleep_deleted(kit: ProviderKit, job: Job) -> None:
    await _forget_sleep(kit, job, object_id(job))


async def handle_recovery_deleted(kit: ProviderKit, job: Job) -> None:
    sleep_id = object_id(job)
    external_id = recovery_external_id(sleep_id)
    async with kit.sessions() as session, session.begin():
        cycle_id = await store.stored_cycle_id(session, job.user_id, external_id)
        await store.remove(session, job.user_id, external_id)
        if cycle_id is not None:
            await store.queue_cycle(
                session, user_id=job.user_id, connection_id=job.connection_id, cycle_id=cycle_id
            )


HANDLERS: Final[dict[str, JobHandler]] = {
    "workout": handle_workout,
    "sleep": handle_sleep,
    "recovery": handle_sleep,
    "cycle": handle_cycle,
    "workout_deleted": handle_workout_deleted,
    "sleep_deleted": handle_sleep_deleted,
    "recovery_deleted": handle_recovery_deleted,
    "backfill": handle_backfill,
}
