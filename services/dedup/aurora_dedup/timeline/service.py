"""Applying ingest's events to source records, and reading the resolved timeline.

Each source record is a last-writer-wins register: an event changes it only
when its version (ingest's per-record revision, then occurred_at, then event id)
is newer than that of the event that set the current state. The revision comes
first because ingest bumps it under a row lock, so it holds even when producers'
clocks disagree; occurred_at and the event id order producers without one.
With the resolution being a function of the set of active records, the final
state is the same for every arrival order of one user's events (checklist A12).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.accounts.orm import MIRROR
from aurora_dedup.resolution.priority import recording_source
from aurora_dedup.timeline import repository, resolver
from aurora_dedup.timeline.events import WorkoutIngested, WorkoutRemoved
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_dedup.timeline.repository import Window
from aurora_dedup.timeline.schemas import (
    DuplicateRef,
    PrimaryRef,
    TimelineItem,
    TimelinePage,
)
from aurora_shared.bus.envelope import Envelope
from aurora_shared.errors import NotFoundError

# Re-resolving this far around a change is more than enough for a chain of
# overlaps to be found; the closure query widens it further when needed.
MARGIN = timedelta(days=1)
log = logging.getLogger("aurora.dedup.timeline")
REMOVED_REASON = "removed by its source"


class ContractViolationError(ValueError):
    """An event that cannot be right; it ends in the dead-letter stream for an operator."""


Version = tuple[int, datetime, uuid.UUID]


def _version(event: Envelope, revision: int) -> Version:
    at = event.occurred_at
    return (revision, at if at.tzinfo is not None else at.replace(tzinfo=UTC), event.id)


def _user_of(event: Envelope) -> uuid.UUID:
    if event.user_id is None:
        raise ContractViolationError(f"{event.type} {event.id} carries no user_id")
    return event.user_id


def _window(row: SourceRecord) -> Window | None:
    if row.removed or row.start_at is None or row.span_end_at is None:
        return None
    return (row.start_at - MARGIN, row.span_end_at + MARGIN)


def _is_stale(row: SourceRecord, version: Version, event: Envelope) -> bool:
    stale = (row.last_revision, row.last_event_at, row.last_event_id) >= version
    if stale:
        log.info(
            "older event ignored",
            extra={"event_id": str(event.id), "event_type": event.type, "record_id": str(row.id)},
        )
    return stale


async def _user_gone(session: AsyncSession, user_id: uuid.UUID, event: Envelope) -> bool:
    """A deleted or erased user's events are dropped: the service no longer serves them.

    Asked under the user's lock, which a purge holds too, so an event cannot
    slip in between a purge and its commit and bring the user's rows back.
    """
    if not await MIRROR.is_blocked(session, user_id):
        return False
    log.info(
        "event of a deleted user dropped",
        extra={"event_id": str(event.id), "event_type": event.type},
    )
    return True


async def _existing(
    session: AsyncSession,
    user_id: uuid.UUID,
    record_id: uuid.UUID,
    source: str,
    external_id: str,
) -> SourceRecord | None:
    row = await repository.record_for_update(session, record_id)
    if row is None:
        clash = await repository.record_by_key(session, user_id, source, external_id)
        if clash is not None:
            raise ContractViolationError(
                f"({source}, {external_id}) already belongs to record {clash.id}, not {record_id}"
            )
        return None
    if (row.user_id, row.source, row.external_id) != (user_id, source, external_id):
        raise ContractViolationError(f"record {record_id} changed its owner or its key")
    return row


async def apply_ingested(session: AsyncSession, event: Envelope) -> None:
    user_id = _user_of(event)
    payload = WorkoutIngested.model_validate(event.payload)
    version = _version(event, payload.revision)
    await repository.lock_user(session, user_id)
    if await _user_gone(session, user_id, event):
        return
    row = await _existing(session, user_id, payload.record_id, payload.source, payload.external_id)
    windows: list[Window] = []
    stale_canonicals: set[uuid.UUID] = set()
    if row is None:
        row = SourceRecord(
            id=payload.record_id,
            user_id=user_id,
            source=payload.source,
            external_id=payload.external_id,
            is_primary=False,
        )
        session.add(row)
    else:
        if _is_stale(row, version, event):
            return
        old = _window(row)
        windows += [old] if old else []
        stale_canonicals |= {row.canonical_id} if row.canonical_id else set()
    row.origin_device = payload.origin_device
    row.sport = payload.sport
    row.start_at = payload.start
    row.end_at = payload.end
    row.span_end_at = payload.end or payload.start + timedelta(seconds=payload.duration_s)
    row.duration_s = payload.duration_s
    row.tz_offset_min = payload.tz_offset_min
    row.metrics = dict(payload.metrics)
    row.removed = False
    row.last_revision, row.last_event_at, row.last_event_id = version
    await session.flush()
    windows.append((row.start_at - MARGIN, row.span_end_at + MARGIN))
    await resolver.reresolve(session, user_id, windows, stale_canonicals)
    log.info("workout record applied", extra={"event_id": str(event.id), "record_id": str(row.id)})


async def apply_removed(session: AsyncSession, event: Envelope) -> None:
    """A removal before its ingest leaves a tombstone, so the late ingest stays buried."""
    user_id = _user_of(event)
    payload = WorkoutRemoved.model_validate(event.payload)
    version = _version(event, payload.revision)
    await repository.lock_user(session, user_id)
    if await _user_gone(session, user_id, event):
        return
    row = await _existing(session, user_id, payload.record_id, payload.source, payload.external_id)
    if row is None:
        row = SourceRecord(
            id=payload.record_id,
            user_id=user_id,
            source=payload.source,
            external_id=payload.external_id,
        )
        session.add(row)
        windows: list[Window] = []
        stale_canonicals: set[uuid.UUID] = set()
    else:
        if _is_stale(row, version, event):
            return
        old = _window(row)
        windows = [old] if old else []
        stale_canonicals = {row.canonical_id} if row.canonical_id else set()
    _bury(row, version)
    await session.flush()
    if windows or stale_canonicals:
        await resolver.reresolve(session, user_id, windows, stale_canonicals)
    log.info("workout record removed", extra={"event_id": str(event.id), "record_id": str(row.id)})


def _bury(row: SourceRecord, version: Version) -> None:
    """Keep only identity and version: nothing of a removed workout stays readable."""
    row.origin_device = None
    row.sport = None
    row.start_at = None
    row.end_at = None
    row.span_end_at = None
    row.duration_s = None
    row.tz_offset_min = None
    row.metrics = None
    row.removed = True
    row.canonical_id = None
    row.is_primary = False
    row.duplicate_of = None
    row.decision_reason = REMOVED_REASON
    row.last_revision, row.last_event_at, row.last_event_id = version


# -- reading ---------------------------------------------------------------------------


def _item(row: CanonicalWorkout, members: Sequence[SourceRecord]) -> TimelineItem:
    primary = next(m for m in members if m.id == row.primary_record_id)
    return TimelineItem(
        id=row.id,
        sport=row.sport,
        start=row.start_at,
        end=row.end_at,
        duration_s=row.duration_s,
        metrics=row.metrics,
        primary=PrimaryRef(
            record_id=primary.id,
            source=primary.source,
            origin_device=primary.origin_device,
            recorded_by=recording_source(primary.source, primary.origin_device),
        ),
        duplicates=[
            DuplicateRef(
                record_id=m.id,
                source=m.source,
                origin_device=m.origin_device,
                reason=m.decision_reason or "",
            )
            for m in members
            if m.id != row.primary_record_id
        ],
        reason=row.reason,
        updated_at=row.updated_at,
    )


async def timeline(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    start_from: datetime | None,
    start_to: datetime | None,
    limit: int,
) -> TimelinePage:
    rows = await repository.canonicals_for_user(
        session, user_id, start_from=start_from, start_to=start_to, limit=limit
    )
    by_canonical: dict[uuid.UUID, list[SourceRecord]] = {row.id: [] for row in rows}
    for member in await repository.members(session, user_id, by_canonical):
        if member.canonical_id is not None:
            by_canonical[member.canonical_id].append(member)
    return TimelinePage(items=[_item(row, by_canonical[row.id]) for row in rows])


async def timeline_item(
    session: AsyncSession, user_id: uuid.UUID, canonical_id: uuid.UUID
) -> TimelineItem:
    row = await repository.canonical_of_user(session, user_id, canonical_id)
    if row is None:
        raise NotFoundError("workout")
    return _item(row, await repository.members(session, user_id, [row.id]))
