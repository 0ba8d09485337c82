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

from aurora_ingest.apple.bulk_records import store_health_bulk, store_workouts_bulk
from aurora_ingest.apple.mapping import SOURCE, WorkoutDraft, merge_samples
from aurora_ingest.apple.models import APPLE_SAMPLES, AppleImport
from aurora_ingest.records.rules import HealthFields, WorkoutFields

COLUMNS = ("user_id", "import_id", "kind", "source", "start_at", "end_at", "value")

# The heart rate of many workouts in one round trip. LATERAL makes each window its own
# range read of the index: a plain join let the planner scan the import's samples whole
# for every batch (the table is fresh from COPY, with no statistics yet).
_WORKOUTS_HR = """
SELECT w.i, s.start_at, s.value, s.source
FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(lo, hi, i)
CROSS JOIN LATERAL (
  SELECT start_at, value, source FROM ingest.apple_samples
  WHERE import_id = $1 AND kind = 'hr' AND start_at >= w.lo AND start_at <= w.hi
  ORDER BY start_at
) AS s
ORDER BY w.i, s.start_at
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


HeartRate = list[tuple[dt.datetime, float]]


async def workouts_heart_rate(
    session: AsyncSession, import_id: uuid.UUID, drafts: list[WorkoutDraft]
) -> list[HeartRate]:
    """Each workout's heart rate inside its window, from the device that recorded the workout
    when it measured any (an overnight Oura stream must not mix into a Watch run)."""
    if not drafts:
        return []
    starts = [d.fields.start_at for d in drafts]
    ends = [
        d.fields.end_at or d.fields.start_at + dt.timedelta(seconds=d.fields.duration_s)
        for d in drafts
    ]
    conn = await driver_connection(session)
    rows = await conn.fetch(_WORKOUTS_HR, import_id, starts, ends)
    found: list[list[Any]] = [[] for _ in drafts]
    for row in rows:
        found[row["i"] - 1].append(row)
    out: list[HeartRate] = []
    for draft, window in zip(drafts, found, strict=True):
        device = draft.fields.origin_device
        own = [(r["start_at"], r["value"]) for r in window if r["source"] == device]
        out.append(own or [(r["start_at"], r["value"]) for r in window])
    return out


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
    records: list[tuple[str, WorkoutFields]] = []
    for draft, heart_rate in zip(
        drafts, await workouts_heart_rate(session, import_id, drafts), strict=True
    ):
        samples = merge_samples(draft.fields.start_at, heart_rate, draft.route)
        fields = draft.fields if samples is None else replace(draft.fields, samples=samples)
        records.append((draft.external_id, fields))
    return await store_workouts_bulk(session, user_id=user_id, source=SOURCE, records=records)


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
