"""Writing an import: COPY for samples, then records and their events through records.service.

Everything runs on the session's own connection, inside the import's one
transaction, so the COPYed samples, the workouts joined with them, the health
records and their outbox rows commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.apple.bulk_health import store_health_bulk
from aurora_ingest.apple.mapping import SOURCE, WorkoutDraft, merge_samples
from aurora_ingest.apple.models import APPLE_SAMPLES, AppleImport
from aurora_ingest.records.rules import HealthFields
from aurora_ingest.records.service import store_workout

COLUMNS = ("user_id", "import_id", "kind", "source", "start_at", "end_at", "value")

_WORKOUT_HR = """
SELECT start_at, value, source FROM ingest.apple_samples
WHERE import_id = $1 AND kind = 'hr' AND start_at >= $2 AND start_at <= $3
ORDER BY start_at
"""


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session: COPY is not something SQLAlchemy speaks."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def copy_samples(session: AsyncSession, rows: bytes) -> None:
    """Rows already in COPY text format (built by mapping.Normaliser)."""
    if not rows:
        return
    conn = await driver_connection(session)

    async def once() -> AsyncIterator[bytes]:
        # asyncpg reads bytes as a file path; an async iterable is sent as it is.
        yield rows

    await conn.copy_to_table(
        APPLE_SAMPLES.name,
        schema_name="ingest",
        columns=list(COLUMNS),
        source=once(),
        format="text",
    )


async def workout_heart_rate(
    session: AsyncSession, import_id: uuid.UUID, draft: WorkoutDraft
) -> list[tuple[dt.datetime, float]]:
    """The heart rate inside the workout's window, from the device that recorded the workout
    when it measured any (an overnight Oura stream must not mix into a Watch run)."""
    fields = draft.fields
    end = fields.end_at or fields.start_at + dt.timedelta(seconds=fields.duration_s)
    conn = await driver_connection(session)
    rows = await conn.fetch(_WORKOUT_HR, import_id, fields.start_at, end)
    own = [(r["start_at"], r["value"]) for r in rows if r["source"] == fields.origin_device]
    return own or [(r["start_at"], r["value"]) for r in rows]


async def store_workouts(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    drafts: list[WorkoutDraft],
) -> int:
    """One `workout.ingested` per new or changed workout, its samples in the event.

    The parser resolved each draft's GPX route already (parse_process).
    """
    for draft in drafts:
        heart_rate = await workout_heart_rate(session, import_id, draft)
        samples = merge_samples(draft.fields.start_at, heart_rate, draft.route)
        fields = draft.fields if samples is None else replace(draft.fields, samples=samples)
        await store_workout(
            session, user_id=user_id, source=SOURCE, external_id=draft.external_id, fields=fields
        )
    # Flushed already: dropping the objects keeps a long import's memory flat.
    session.expunge_all()
    return len(drafts)


async def store_health_records(
    session: AsyncSession, *, user_id: uuid.UUID, records: list[tuple[str, HealthFields]]
) -> int:
    return await store_health_bulk(session, user_id=user_id, source=SOURCE, records=records)


async def publish(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    bytes_parsed: int,
    summary: dict[str, Any],
) -> None:
    """The newest export is a superset of the older ones: their samples go."""
    older = select(AppleImport.id).where(
        AppleImport.user_id == user_id, AppleImport.id != import_id
    )
    await session.execute(delete(APPLE_SAMPLES).where(APPLE_SAMPLES.c.import_id.in_(older)))
    await session.execute(
        update(AppleImport)
        .where(AppleImport.id == import_id)
        .values(bytes_parsed=bytes_parsed, summary=summary)
    )
