"""Applying ingest's workout events to source records (reading is in views.py).

Each source record is a last-writer-wins register (registers.py): an event
changes it only when its version is newer than the current state's, and a
removal leaves a tombstone. With the resolution being a function of the set of
active records, the final state is the same for every arrival order of one
user's events (checklist A12).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup import registers
from aurora_dedup.registers import Claim, Version
from aurora_dedup.timeline import resolver
from aurora_dedup.timeline.events import WorkoutIngested, WorkoutRemoved
from aurora_dedup.timeline.orm import SourceRecord
from aurora_dedup.timeline.repository import Window
from aurora_shared.bus.envelope import Envelope

# Re-resolving this far around a change is more than enough for a chain of
# overlaps to be found; the closure query widens it further when needed.
MARGIN = timedelta(days=1)
log = logging.getLogger("aurora.dedup.timeline")
# A new record is no group's primary until the resolution says so.
_FRESH = {"is_primary": False}
W = TypeVar("W", WorkoutIngested, WorkoutRemoved)


def window_of(row: SourceRecord) -> Window | None:
    if row.removed or row.start_at is None or row.span_end_at is None:
        return None
    return (row.start_at - MARGIN, row.span_end_at + MARGIN)


def placement_before(row: SourceRecord) -> tuple[list[Window], set[uuid.UUID]]:
    """Where the record was and the canonical it belonged to: both need re-resolving."""
    old = window_of(row)
    return ([old] if old else []), ({row.canonical_id} if row.canonical_id else set())


async def _claim(
    session: AsyncSession, event: Envelope, payload_model: type[W]
) -> Claim[W, SourceRecord] | None:
    """The event's source record; a malformed payload raises pydantic's ValidationError."""
    return await registers.claim(
        session,
        SourceRecord,
        event,
        lambda e: payload_model.model_validate(e.payload),
        log=log,
        fresh=_FRESH,
    )


async def apply_ingested(session: AsyncSession, event: Envelope) -> None:
    claim = await _claim(session, event, WorkoutIngested)
    if claim is None:
        return
    payload, row = claim.payload, claim.row
    windows, stale_canonicals = ([], set()) if claim.is_new else placement_before(row)
    write_ingested(row, payload, claim.version)
    await session.flush()
    windows.append(_window_of_active(row))
    await resolver.reresolve(session, row.user_id, windows, stale_canonicals)
    log.info("workout record applied", extra={"event_id": str(event.id), "record_id": str(row.id)})


async def apply_removed(session: AsyncSession, event: Envelope) -> None:
    """A removal before its ingest leaves a tombstone, so the late ingest stays buried."""
    claim = await _claim(session, event, WorkoutRemoved)
    if claim is None:
        return
    row = claim.row
    windows, stale_canonicals = ([], set()) if claim.is_new else placement_before(row)
    bury(row, claim.version)
    await session.flush()
    if windows or stale_canonicals:
        await resolver.reresolve(session, row.user_id, windows, stale_canonicals)
    log.info("workout record removed", extra={"event_id": str(event.id), "record_id": str(row.id)})


def write_ingested(row: SourceRecord, payload: WorkoutIngested, version: Version) -> None:
    row.origin_device = payload.origin_device
    row.sport = payload.sport
    row.start_at = payload.start
    row.end_at = payload.end
    row.span_end_at = payload.end or payload.start + timedelta(seconds=payload.duration_s)
    row.duration_s = payload.duration_s
    row.tz_offset_min = payload.tz_offset_min
    row.metrics = dict(payload.metrics)
    row.removed = False
    row.stamp(version)


def _window_of_active(row: SourceRecord) -> Window:
    window = window_of(row)
    assert window is not None, "an ingested record has a span"
    return window


def bury(row: SourceRecord, version: Version) -> None:
    """Keep only identity and version: nothing of a removed workout stays readable."""
    row.sport = None
    row.span_end_at = None
    row.duration_s = None
    row.metrics = None
    row.canonical_id = None
    row.is_primary = False
    row.duplicate_of = None
    row.bury(version)
