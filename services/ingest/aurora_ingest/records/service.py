"""Storing, removing and reading records; every change is written with its event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.db import BUS, STREAM
from aurora_ingest.records import events, repository
from aurora_ingest.records.models import Record
from aurora_ingest.records.rules import HealthFields, WorkoutFields
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import NotFoundError


def workout_columns(fields: WorkoutFields) -> dict[str, Any]:
    """Public so a bulk writer (Apple Health's) stores exactly what store_workout would."""
    return {
        "kind": "workout",
        "origin_device": fields.origin_device,
        "sport": fields.sport,
        "start_at": fields.start_at,
        "end_at": fields.end_at,
        "duration_s": fields.duration_s,
        "tz_offset_min": fields.tz_offset_min,
        "metrics": fields.metrics,
        "details": fields.details,
        "samples": fields.samples,
    }


def health_columns(fields: HealthFields) -> dict[str, Any]:
    """Public so a bulk writer (Apple Health's) stores exactly what store_health would."""
    duration = (fields.end_at - fields.start_at).total_seconds() if fields.end_at else None
    return {
        "kind": fields.kind,
        "origin_device": fields.origin_device,
        "sport": None,
        "local_date": fields.date,
        "start_at": fields.start_at,
        "end_at": fields.end_at,
        "duration_s": duration if duration and duration > 0 else None,
        "tz_offset_min": fields.tz_offset_min,
        "metrics": fields.metrics,
        "details": fields.details,
    }


def _unchanged(record: Record, columns: dict[str, Any]) -> bool:
    return record.deleted_at is None and all(
        getattr(record, name) == value for name, value in columns.items()
    )


async def _upsert(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    external_id: str,
    columns: dict[str, Any],
    raw_id: uuid.UUID | None,
) -> tuple[Record, bool]:
    """The record and whether it changed: a repeat of the same content is a no-op.

    At-least-once delivery upstream must not fan out into duplicate events; a
    removed record delivered again comes back to life, since the source says it exists.
    """
    key: dict[str, Any] = {"user_id": user_id, "source": source, "external_id": external_id}
    record = await repository.insert_if_new(session, {**key, **columns, "raw_payload_id": raw_id})
    if record is not None:
        return record, True
    record = await repository.by_key_for_update(
        session, user_id=user_id, source=source, external_id=external_id
    )
    if record is None:  # deleted between the two statements: hard purge racing us
        raise RuntimeError("record vanished during upsert")
    if record.kind != columns["kind"]:
        raise ValueError(
            f"{source} record {external_id} is a {record.kind}, not a {columns['kind']}"
        )
    if raw_id is not None:
        record.raw_payload_id = raw_id
    if _unchanged(record, columns):
        await session.flush()
        return record, False
    for name, value in columns.items():
        setattr(record, name, value)
    record.revision += 1
    record.updated_at = datetime.now(UTC)
    record.deleted_at = None
    await session.flush()
    return record, True


async def _publish(session: AsyncSession, record: Record, event_type: str) -> None:
    payload = {
        events.WORKOUT_INGESTED: events.workout_ingested,
        events.WORKOUT_REMOVED: events.record_removed,
        events.HEALTH_INGESTED: events.health_ingested,
        events.HEALTH_REMOVED: events.record_removed,
    }[event_type](record)
    event = new_event(event_type, producer=events.PRODUCER, user_id=record.user_id, payload=payload)
    await enqueue(session, BUS.outbox, STREAM, event)


async def _store(
    session: AsyncSession,
    key: tuple[uuid.UUID, str, str],
    columns: dict[str, Any],
    raw_id: uuid.UUID | None,
    event_type: str,
) -> uuid.UUID:
    user_id, source, external_id = key
    record, changed = await _upsert(
        session,
        user_id=user_id,
        source=source,
        external_id=external_id,
        columns=columns,
        raw_id=raw_id,
    )
    if changed:
        await _publish(session, record, event_type)
    return record.id


async def store_workout(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    external_id: str,
    fields: WorkoutFields,
    raw_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert, update or leave alone; `workout.ingested` goes out only when something changed."""
    key = (user_id, source, external_id)
    return await _store(session, key, workout_columns(fields), raw_id, events.WORKOUT_INGESTED)


async def store_health(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    external_id: str,
    fields: HealthFields,
    raw_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Like store_workout, for sleep, recovery and daily records (`health.ingested`)."""
    key = (user_id, source, external_id)
    return await _store(session, key, health_columns(fields), raw_id, events.HEALTH_INGESTED)


async def _remove(session: AsyncSession, record: Record) -> None:
    now = datetime.now(UTC)
    record.deleted_at = now
    record.updated_at = now
    record.revision += 1
    await session.flush()
    removed = events.WORKOUT_REMOVED if record.kind == "workout" else events.HEALTH_REMOVED
    await _publish(session, record, removed)


async def remove_workout(
    session: AsyncSession, *, user_id: uuid.UUID, record_id: uuid.UUID, source: str
) -> None:
    record = await repository.owned(
        session, user_id=user_id, record_id=record_id, source=source, for_update=True
    )
    if record is None or record.kind != "workout":
        raise NotFoundError("record")
    await _remove(session, record)


async def remove_by_external_id(
    session: AsyncSession, *, user_id: uuid.UUID, source: str, external_id: str
) -> bool:
    """Soft-remove what a provider deleted; False when unknown or already removed."""
    record = await repository.by_key_for_update(
        session, user_id=user_id, source=source, external_id=external_id
    )
    if record is None or record.deleted_at is not None:
        return False
    await _remove(session, record)
    return True


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
