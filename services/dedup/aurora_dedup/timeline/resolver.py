"""Re-resolving one user's records after a change, and telling the world what changed.

Canonical ids are derived from the primary record (uuid5), so a canonical keeps
its id for as long as its primary stays primary, and the same set of records
gives the same ids whatever order the events came in.

A canonical workout that disappears (its primary was removed, or a record with
a higher priority took over) is announced with its own event type,
`workout.unresolved` {canonical_id, primary_record_id, superseded_by, reason},
rather than a `workout.resolved` with a removed flag: a consumer that predates
it ignores an unknown type, while it would misread a flag it does not know as
one more live workout. `superseded_by` names the canonical the old primary now
belongs to, when it still exists.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.db import BUS, STREAM
from aurora_dedup.resolution.priority import DEFAULT_WORKOUT_PRIORITY
from aurora_dedup.resolution.rules import Group, WorkoutRecord, resolve
from aurora_dedup.timeline import repository
from aurora_dedup.timeline.events import WORKOUT_RESOLVED, WORKOUT_UNRESOLVED
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_dedup.timeline.repository import Window
from aurora_shared.bus.envelope import Envelope, new_event
from aurora_shared.bus.outbox import enqueue

PRODUCER: Final = "dedup"
CANONICAL_NAMESPACE: Final = uuid.UUID("5b0f6f0e-3c55-4c1e-9a57-7d2a1f0c9e41")
_TICK: Final = timedelta(microseconds=1)
log = logging.getLogger("aurora.dedup.resolver")


def canonical_id_for(primary_record_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(CANONICAL_NAMESPACE, f"canonical-workout:{primary_record_id}")


def rule_record(row: SourceRecord) -> WorkoutRecord:
    assert row.sport is not None and row.start_at is not None and row.duration_s is not None
    return WorkoutRecord(
        id=row.id,
        source=row.source,
        external_id=row.external_id,
        origin_device=row.origin_device,
        sport=row.sport,
        start=row.start_at,
        end=row.end_at,
        duration_s=row.duration_s,
    )


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def record_payload(row: SourceRecord, recorded_by: str) -> dict[str, Any]:
    return {
        "record_id": str(row.id),
        "source": row.source,
        "origin_device": row.origin_device,
        "recorded_by": recorded_by,
        "external_id": row.external_id,
        "sport": row.sport,
        "start": iso(row.start_at),
        "end": iso(row.end_at),
        "duration_s": row.duration_s,
        "tz_offset_min": row.tz_offset_min,
        "metrics": row.metrics,
    }


def resolved_payload(
    canonical_id: uuid.UUID, group: Group, rows: Mapping[uuid.UUID, SourceRecord]
) -> dict[str, Any]:
    primary = group.primary.record
    row = rows[primary.id]
    return {
        "canonical_id": str(canonical_id),
        "sport": primary.sport,
        "start": iso(primary.start),
        "end": iso(primary.span_end),
        "duration_s": primary.duration_s,
        "metrics": row.metrics,
        "primary": record_payload(row, primary.recorded_by),
        "duplicate_record_ids": [str(d.record.id) for d in group.duplicates],
        "duplicates": [
            {
                "record_id": str(d.record.id),
                "source": d.record.source,
                "origin_device": d.record.origin_device,
                "reason": d.reason,
            }
            for d in group.duplicates
        ],
        "reason": group.reason,
    }


def fingerprint(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _after(now: datetime, previous: datetime | None) -> datetime:
    """Events about one canonical never go back in time, even across skewed workers."""
    return now if previous is None or previous < now else previous + _TICK


async def reresolve(
    session: AsyncSession,
    user_id: uuid.UUID,
    windows: Iterable[Window],
    canonical_ids: Iterable[uuid.UUID],
    priorities: Mapping[str, int] = DEFAULT_WORKOUT_PRIORITY,
) -> None:
    """Resolve the records around the windows and rewrite what changed, with its events."""
    canonical_ids = set(canonical_ids)
    rows = await repository.active_closure(session, user_id, windows, canonical_ids)
    groups = resolve((rule_record(r) for r in rows.values()), priorities)
    by_id = {canonical_id_for(g.primary.record.id): g for g in groups}
    old_ids = canonical_ids | {r.canonical_id for r in rows.values() if r.canonical_id}
    old = await repository.canonicals(session, old_ids | by_id.keys())
    now = datetime.now(UTC)
    events: list[Envelope] = []

    for cid in sorted(old.keys() - by_id.keys()):
        gone = old[cid]
        events.append(_unresolved(gone, rows, by_id, _after(now, gone.updated_at)))
        await session.delete(gone)
    await session.flush()

    for cid, group in by_id.items():
        _link(group, cid, rows)
        payload = resolved_payload(cid, group, rows)
        digest = fingerprint(payload)
        current = old.get(cid)
        if current is not None and current.fingerprint == digest:
            continue
        occurred = _after(now, current.updated_at if current else None)
        if current is None:
            current = CanonicalWorkout(id=cid, user_id=user_id)
            session.add(current)
        primary = group.primary.record
        current.primary_record_id = primary.id
        current.sport = primary.sport
        current.start_at = primary.start
        current.end_at = primary.span_end
        current.duration_s = primary.duration_s
        current.metrics = dict(rows[primary.id].metrics or {})
        current.reason = group.reason
        current.fingerprint = digest
        current.updated_at = occurred
        events.append(
            new_event(
                WORKOUT_RESOLVED,
                producer=PRODUCER,
                user_id=user_id,
                payload=payload,
                occurred_at=occurred,
            )
        )
    await session.flush()
    await enqueue(session, BUS.outbox, STREAM, events)
    log.info(
        "timeline re-resolved",
        extra={
            "user_id": str(user_id),
            "records": len(rows),
            "groups": len(groups),
            "events": [e.type for e in events],
        },
    )


def _link(group: Group, canonical_id: uuid.UUID, rows: Mapping[uuid.UUID, SourceRecord]) -> None:
    primary_id = group.primary.record.id
    for decision, is_primary in (
        (group.primary, True),
        *((d, False) for d in group.duplicates),
    ):
        row = rows[decision.record.id]
        row.canonical_id = canonical_id
        row.is_primary = is_primary
        row.duplicate_of = None if is_primary else primary_id
        row.decision_reason = decision.reason


def _unresolved(
    gone: CanonicalWorkout,
    rows: Mapping[uuid.UUID, SourceRecord],
    groups: Mapping[uuid.UUID, Group],
    occurred: datetime,
) -> Envelope:
    old_primary = rows.get(gone.primary_record_id)
    superseded_by: uuid.UUID | None = None
    if old_primary is None:
        reason = f"primary record {gone.primary_record_id} was removed by its source"
    else:
        superseded_by = next(
            cid for cid, g in groups.items() if any(r.id == old_primary.id for r in g.records)
        )
        decision = next(
            d for d in groups[superseded_by].duplicates if d.record.id == old_primary.id
        )
        reason = f"primary record {old_primary.id} is now a {decision.reason}"
    return new_event(
        WORKOUT_UNRESOLVED,
        producer=PRODUCER,
        user_id=gone.user_id,
        payload={
            "canonical_id": str(gone.id),
            "primary_record_id": str(gone.primary_record_id),
            "superseded_by": None if superseded_by is None else str(superseded_by),
            "reason": reason,
        },
        occurred_at=occurred,
    )
