"""Storing, removing and reading records; every change is written with its event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.db import BUS, STREAM
from aurora_ingest.records import events, repository
from aurora_ingest.records.models import Record
from aurora_ingest.records.rules import WorkoutFields
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import NotFoundError


def _fields(record: Record) -> WorkoutFields:
    return WorkoutFields(
        sport=record.sport or "",
        start_at=record.start_at,
        end_at=record.end_at,
        duration_s=record.duration_s or 0.0,
        tz_offset_min=record.tz_offset_min,
        metrics=record.metrics,
        origin_device=record.origin_device,
    )


async def store_workout(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    external_id: str,
    fields: WorkoutFields,
) -> uuid.UUID:
    """Insert, update or leave alone; an event is written only when something changed.

    A repeat of the same content is a no-op (at-least-once delivery upstream
    must not fan out into duplicate events); a removed record delivered again
    comes back to life, since the source says it exists.
    """
    record = await repository.insert_workout_if_new(
        session, user_id=user_id, source=source, external_id=external_id, fields=fields
    )
    if record is None:
        record = await repository.by_key_for_update(
            session, user_id=user_id, source=source, external_id=external_id
        )
        if record is None:  # deleted between the two statements: hard purge racing us
            raise RuntimeError("record vanished during upsert")
        if record.deleted_at is None and _fields(record) == fields:
            return record.id
        record.sport = fields.sport
        record.start_at = fields.start_at
        record.end_at = fields.end_at
        record.duration_s = fields.duration_s
        record.tz_offset_min = fields.tz_offset_min
        record.metrics = fields.metrics
        record.origin_device = fields.origin_device
        record.revision += 1
        record.updated_at = datetime.now(UTC)
        record.deleted_at = None
        await session.flush()
    event = new_event(
        events.WORKOUT_INGESTED,
        producer=events.PRODUCER,
        user_id=user_id,
        payload=events.workout_ingested(record),
    )
    await enqueue(session, BUS.outbox, STREAM, event)
    return record.id


async def remove_workout(
    session: AsyncSession, *, user_id: uuid.UUID, record_id: uuid.UUID, source: str
) -> None:
    record = await repository.owned(
        session, user_id=user_id, record_id=record_id, source=source, for_update=True
    )
    if record is None or record.kind != "workout":
        raise NotFoundError("record")
    now = datetime.now(UTC)
    record.deleted_at = now
    record.updated_at = now
    record.revision += 1
    await session.flush()
    event = new_event(
        events.WORKOUT_REMOVED,
        producer=events.PRODUCER,
        user_id=user_id,
        payload=events.workout_removed(record),
    )
    await enqueue(session, BUS.outbox, STREAM, event)


async def get_record(session: AsyncSession, *, user_id: uuid.UUID, record_id: uuid.UUID) -> Record:
    record = await repository.owned(session, user_id=user_id, record_id=record_id)
    if record is None:
        raise NotFoundError("record")
    return record


async def list_records(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: str | None,
    limit: int,
    before: datetime | None,
    before_id: uuid.UUID | None,
) -> Sequence[Record]:
    return await repository.page(
        session, user_id=user_id, kind=kind, limit=limit, before=before, before_id=before_id
    )
