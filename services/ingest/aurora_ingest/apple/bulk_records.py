"""Records of an import in a few multi-row INSERTs instead of several round trips each.

A first import of a 1.5M-record export yields thousands of daily and sleep
records and hundreds of workouts, and `records.service.store_health` /
`store_workout` cost several round trips per record (lookup, insert, flush,
outbox insert). Here a chunk is inserted in one statement with ON CONFLICT DO
NOTHING: every row that comes back is new, so it gets exactly the event the
single-record path would have written, built by records' own payload function.
A key that existed already (a re-import, a newer export) goes through the
single-record path itself, so updates and unchanged records keep their one true
code path. Events keep the order of the records.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.db import BUS, STREAM
from aurora_ingest.records import events
from aurora_ingest.records.models import Record
from aurora_ingest.records.rules import HealthFields, WorkoutFields
from aurora_ingest.records.service import (
    health_columns,
    store_health,
    store_workout,
    workout_columns,
)
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue

CHUNK = 500
F = TypeVar("F", HealthFields, WorkoutFields)


@dataclass(frozen=True)
class BulkKind:
    """How one kind of record is stored: its columns, its event, its single-record path."""

    columns: Callable[[Any], dict[str, Any]]
    event_type: str
    payload: Callable[[Record], dict[str, Any]]
    store_one: Callable[..., Awaitable[uuid.UUID]]


HEALTH = BulkKind(health_columns, events.HEALTH_INGESTED, events.health_ingested, store_health)
WORKOUTS = BulkKind(
    workout_columns, events.WORKOUT_INGESTED, events.workout_ingested, store_workout
)


async def _insert_new(
    session: AsyncSession,
    kind: BulkKind,
    *,
    user_id: uuid.UUID,
    source: str,
    chunk: Sequence[tuple[str, F]],
) -> dict[str, Record]:
    """The rows this statement inserted, by external id; keys already present are left alone."""
    values = [
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "source": source,
            "external_id": external_id,
            **kind.columns(fields),
            "raw_payload_id": None,
        }
        for external_id, fields in chunk
    ]
    # A list of parameter sets, not .values(rows): SQLAlchemy batches it as
    # "insertmanyvalues" with one cached compilation, where a 500-row VALUES clause
    # was compiled afresh for every chunk (most of the cost of a large import's tail).
    statement = (
        insert(Record)
        .on_conflict_do_nothing(index_elements=["user_id", "source", "external_id"])
        .returning(Record)
    )
    result = await session.scalars(statement, values, execution_options={"populate_existing": True})
    return {record.external_id: record for record in result.all()}


async def store_bulk(
    session: AsyncSession,
    kind: BulkKind,
    *,
    user_id: uuid.UUID,
    source: str,
    records: Sequence[tuple[str, F]],
) -> int:
    for begin in range(0, len(records), CHUNK):
        chunk = records[begin : begin + CHUNK]
        # One statement cannot insert the same key twice: a repeat goes the slow way.
        first = {key: fields for key, fields in reversed(chunk)}
        unique = list(first.items())
        inserted = await _insert_new(session, kind, user_id=user_id, source=source, chunk=unique)
        pending: list[Envelope] = []
        for external_id, fields in chunk:
            record = inserted.pop(external_id, None)
            if record is not None:
                pending.append(
                    new_event(
                        kind.event_type,
                        producer=events.PRODUCER,
                        user_id=record.user_id,
                        payload=kind.payload(record),
                    )
                )
                continue
            await enqueue(session, BUS.outbox, STREAM, pending)
            pending = []
            await kind.store_one(
                session, user_id=user_id, source=source, external_id=external_id, fields=fields
            )
        await enqueue(session, BUS.outbox, STREAM, pending)
        # Flushed already: dropping the objects keeps a long import's memory flat.
        session.expunge_all()
    return len(records)


async def store_health_bulk(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    records: Sequence[tuple[str, HealthFields]],
) -> int:
    return await store_bulk(session, HEALTH, user_id=user_id, source=source, records=records)


async def store_workouts_bulk(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    records: Sequence[tuple[str, WorkoutFields]],
) -> int:
    return await store_bulk(session, WORKOUTS, user_id=user_id, source=source, records=records)
