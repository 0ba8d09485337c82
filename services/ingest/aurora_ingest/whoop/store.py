"""Writing what WHOOP said: raw payload, mapped record and follow-up work, in one transaction.

Each function only flushes: the job that calls it owns the transaction, so a
payload, its record, its event (outbox) and any queued follow-up commit
together or not at all.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.jobs.service import enqueue
from aurora_ingest.raw.service import store_raw
from aurora_ingest.records import repository as records
from aurora_ingest.records.service import remove_by_external_id, store_health, store_workout
from aurora_ingest.whoop.client import PROVIDER, Fetched
from aurora_ingest.whoop.mapping import (
    daily_external_id,
    map_recovery,
    map_sleep,
    map_workout,
    merge_daily,
    recovery_external_id,
    sleep_external_id,
    workout_external_id,
)
from aurora_ingest.whoop.schemas import Cycle, Recovery, Sleep, Workout

SOURCE = "whoop"
CYCLE_JOB = "cycle"


def cycle_job_key(user_id: uuid.UUID, cycle_id: int) -> str:
    return f"{user_id}:{cycle_id}"


async def queue_cycle(
    session: AsyncSession, *, user_id: uuid.UUID, connection_id: uuid.UUID | None, cycle_id: int
) -> None:
    """Re-derive a cycle's recovery and daily view later; a flood for one cycle is one job.

    A sleep, its recovery and the day's workouts usually change together; their
    events queue the same (provider, kind, key) and the pending job absorbs them.
    """
    await enqueue(
        session,
        provider=PROVIDER,
        kind=CYCLE_JOB,
        key=cycle_job_key(user_id, cycle_id),
        user_id=user_id,
        connection_id=connection_id,
        payload={"cycle_id": cycle_id},
    )


async def _raw(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: str,
    object_id: str,
    *,
    raw_id: uuid.UUID | None = None,
    body: bytes | None,
) -> uuid.UUID | None:
    """The payload's row: stored now when the caller has the body, else the one given."""
    if body is None:
        return raw_id
    return await store_raw(
        session, user_id=user_id, provider=PROVIDER, kind=kind, external_id=object_id, body=body
    )


async def save_workout(
    session: AsyncSession,
    user_id: uuid.UUID,
    workout: Workout,
    *,
    raw_id: uuid.UUID | None = None,
    body: bytes | None = None,
) -> uuid.UUID:
    raw_id = await _raw(session, user_id, "workout", str(workout.id), raw_id=raw_id, body=body)
    return await store_workout(
        session,
        user_id=user_id,
        source=SOURCE,
        external_id=workout_external_id(workout.id),
        fields=map_workout(workout),
        raw_id=raw_id,
    )


async def save_sleep(
    session: AsyncSession,
    user_id: uuid.UUID,
    sleep: Sleep,
    *,
    raw_id: uuid.UUID | None = None,
    body: bytes | None = None,
) -> uuid.UUID:
    raw_id = await _raw(session, user_id, "sleep", str(sleep.id), raw_id=raw_id, body=body)
    return await store_health(
        session,
        user_id=user_id,
        source=SOURCE,
        external_id=sleep_external_id(sleep.id),
        fields=map_sleep(sleep),
        raw_id=raw_id,
    )


async def save_cycle(
    session: AsyncSession,
    user_id: uuid.UUID,
    cycle: Fetched[Cycle],
    recovery: Fetched[Recovery] | None,
    sleep: Fetched[Sleep] | None,
) -> uuid.UUID:
    """The cycle's recovery, its main sleep and the daily view merged from all three."""
    cycle_raw = await _raw(session, user_id, "cycle", str(cycle.item.id), body=cycle.body)
    if recovery is not None:
        recovery_raw = await _raw(
            session, user_id, "recovery", str(recovery.item.sleep_id), body=recovery.body
        )
        await store_health(
            session,
            user_id=user_id,
            source=SOURCE,
            external_id=recovery_external_id(recovery.item.sleep_id),
            fields=map_recovery(recovery.item, cycle.item),
            raw_id=recovery_raw,
        )
    if sleep is not None:
        await save_sleep(session, user_id, sleep.item, body=sleep.body)
    return await store_health(
        session,
        user_id=user_id,
        source=SOURCE,
        external_id=daily_external_id(cycle.item.id),
        fields=merge_daily(
            cycle.item,
            recovery.item if recovery is not None else None,
            sleep.item if sleep is not None else None,
        ),
        raw_id=cycle_raw,
    )


async def stored_cycle_id(
    session: AsyncSession, user_id: uuid.UUID, external_id: str
) -> int | None:
    """The cycle a stored sleep or recovery belonged to (WHOOP's deletion names only the sleep)."""
    record = await records.by_key_for_update(
        session, user_id=user_id, source=SOURCE, external_id=external_id
    )
    if record is None or record.details.get("nap"):
        return None
    cycle_id = record.details.get("cycle_id")
    return cycle_id if isinstance(cycle_id, int) and not isinstance(cycle_id, bool) else None


async def remove(session: AsyncSession, user_id: uuid.UUID, external_id: str) -> bool:
    return await remove_by_external_id(
        session, user_id=user_id, source=SOURCE, external_id=external_id
    )
