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

Every resolution reads the athlete's controls (priority order, manual links), so
a control survives every later event; the canonical's metrics are the group's
filled-in fields, each with the record it came from (`field_sources`).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from aurora_dedup.controls import repository as controls_repository
from aurora_dedup.controls.domain import WorkoutControls
from aurora_dedup.db import BUS, STREAM
from aurora_dedup.publishing import after, announcement, change_of, iso
from aurora_dedup.resolution.fill import FilledField, fill_fields
from aurora_dedup.resolution.rules import Group, WorkoutRecord, resolve
from aurora_dedup.timeline import repository
from aurora_dedup.timeline.events import WORKOUT_RESOLVED, WORKOUT_UNRESOLVED
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_dedup.timeline.repository import Window
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.outbox import enqueue

CANONICAL_NAMESPACE: Final = uuid.UUID("5b0f6f0e-3c55-4c1e-9a57-7d2a1f0c9e41")
log = logging.getLogger("aurora.dedup.resolver")


def canonical_id_for(primary_record_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(CANONICAL_NAMESPACE, f"canonical-workout:{primary_record_id}")


def _number(value: Any) -> float | None:
    """A metric the rules may compare: a finite number, never a bool or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def rule_record(row: SourceRecord) -> WorkoutRecord:
    assert row.sport is not None and row.start_at is not None and row.duration_s is not None
    metrics = dict(row.metrics or {})
    return WorkoutRecord(
        id=row.id,
        source=row.source,
        external_id=row.external_id,
        origin_device=row.origin_device,
        sport=row.sport,
        start=row.start_at,
        end=row.end_at,
        duration_s=row.duration_s,
        tz_offset_min=row.tz_offset_min,
        distance_m=_number(metrics.get("distance_m")),
        avg_hr=_number(metrics.get("avg_hr")),
        avg_power=_number(metrics.get("avg_power")),
        metrics=metrics,
    )


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


def field_sources(filled: Mapping[str, FilledField]) -> dict[str, dict[str, str]]:
    return {
        name: {"record_id": str(f.record_id), "source": f.source}
        for name, f in sorted(filled.items())
    }


def resolved_payload(
    canonical_id: uuid.UUID, group: Group, rows: Mapping[uuid.UUID, SourceRecord]
) -> dict[str, Any]:
    """`metrics` are the canonical's filled fields; `primary.metrics` the primary's own."""
    primary = group.primary.record
    row = rows[primary.id]
    filled = fill_fields(group)
    return {
        "canonical_id": str(canonical_id),
        "sport": primary.sport,
        "start": iso(primary.start),
        "end": iso(primary.span_end),
        "duration_s": primary.duration_s,
        "metrics": {name: f.value for name, f in sorted(filled.items())},
        "field_sources": field_sources(filled),
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


@dataclass(frozen=True, slots=True)
class Resolution:
    """What one re-resolution looked at and what it announced."""

    records: int
    groups: int
    resolved: int
    unresolved: int


async def reresolve(
    session: AsyncSession,
    user_id: uuid.UUID,
    windows: Iterable[Window],
    canonical_ids: Iterable[uuid.UUID],
    record_ids: Iterable[uuid.UUID] = (),
) -> Resolution:
    """Resolve the records around the windows, canonicals and records given, with the
    athlete's controls, and rewrite what changed, with its events."""
    canonical_ids = set(canonical_ids)
    controls = await controls_repository.workout_controls(session, user_id)
    rows = await repository.active_closure(
        session,
        user_id,
        windows,
        canonical_ids,
        record_ids=record_ids,
        partners=controls.same_partners(),
    )
    return await _rewrite(session, user_id, rows, canonical_ids, controls)


async def reresolve_user(session: AsyncSession, user_id: uuid.UUID) -> Resolution:
    """Every workout of the user, as after a change of their priority order.

    The caller holds the user's lock. Only canonicals whose content changed get
    an event; an order that changes no group changes nothing downstream.
    """
    controls = await controls_repository.workout_controls(session, user_id)
    rows = await repository.all_active(session, user_id)
    old_ids = await repository.canonical_ids_of_user(session, user_id)
    return await _rewrite(session, user_id, rows, old_ids, controls)


@dataclass(frozen=True, slots=True)
class Scope:
    """One user's records closed under overlap, the canonicals they were in, and the
    athlete's controls: what one resolution needs."""

    user_id: uuid.UUID
    rows: Mapping[uuid.UUID, SourceRecord]
    canonical_ids: set[uuid.UUID]
    controls: WorkoutControls


async def _rewrite(
    session: AsyncSession,
    user_id: uuid.UUID,
    rows: Mapping[uuid.UUID, SourceRecord],
    canonical_ids: set[uuid.UUID],
    controls: WorkoutControls,
) -> Resolution:
    return await rewrite_many(session, [Scope(user_id, rows, canonical_ids, controls)])


async def rewrite_many(session: AsyncSession, scopes: Iterable[Scope]) -> Resolution:
    """Resolve each scope and rewrite what changed, with its events; the statements
    (canonicals read, deleted, written; records placed; events queued) are shared by
    every scope, so a batch of users costs what one user does."""
    plans = [(scope, _groups_by_canonical(scope)) for scope in scopes]
    wanted: set[uuid.UUID] = set()
    for scope, by_id in plans:
        wanted |= scope.canonical_ids | by_id.keys()
        wanted |= {r.canonical_id for r in scope.rows.values() if r.canonical_id}
    old = await repository.canonicals(session, wanted)
    now = datetime.now(UTC)
    events: list[Envelope] = []
    gone_ids: list[uuid.UUID] = []
    placements: list[dict[str, Any]] = []
    totals = [0, 0, 0, 0]  # records, groups, resolved, unresolved
    for scope, by_id in plans:
        old_ids = scope.canonical_ids | {
            r.canonical_id for r in scope.rows.values() if r.canonical_id
        }
        gone = sorted((old_ids & old.keys()) - by_id.keys())
        for cid in gone:
            events.append(_unresolved(old[cid], scope.rows, by_id, after(now, old[cid].updated_at)))
            session.expunge(old[cid])
        gone_ids += gone
        resolved = 0
        for cid, group in by_id.items():
            placements += _relink(group, cid, scope.rows)
            if _rewrite_canonical(
                session, scope, cid, group, current=old.get(cid), now=now, events=events
            ):
                resolved += 1
        totals = [
            totals[0] + len(scope.rows),
            totals[1] + len(by_id),
            totals[2] + resolved,
            totals[3] + len(gone),
        ]
    # One statement, not one per canonical: a new priority order can withdraw hundreds.
    await repository.delete_canonicals(session, gone_ids)
    await session.flush()
    await repository.place_records(session, placements)
    await enqueue(session, BUS.outbox, STREAM, events)
    log.info(
        "timeline re-resolved",
        extra={
            "users": len(plans),
            "records": totals[0],
            "groups": totals[1],
            "resolved": totals[2],
            "unresolved": totals[3],
        },
    )
    return Resolution(*totals)


def _groups_by_canonical(scope: Scope) -> dict[uuid.UUID, Group]:
    groups = resolve(
        (rule_record(r) for r in scope.rows.values()),
        scope.controls.priorities,
        scope.controls.overrides(scope.rows.keys()),
    )
    return {canonical_id_for(g.primary.record.id): g for g in groups}


def _rewrite_canonical(
    session: AsyncSession,
    scope: Scope,
    cid: uuid.UUID,
    group: Group,
    *,
    current: CanonicalWorkout | None,
    now: datetime,
    events: list[Envelope],
) -> bool:
    """Write the group's canonical and queue its `workout.resolved`, unless unchanged."""
    payload = resolved_payload(cid, group, scope.rows)
    change = change_of(current, payload, now)
    if change is None:
        return False
    if current is None:
        current = CanonicalWorkout(id=cid, user_id=scope.user_id)
        session.add(current)
    primary = group.primary.record
    current.primary_record_id = primary.id
    current.sport = primary.sport
    current.start_at = primary.start
    current.end_at = primary.span_end
    current.duration_s = primary.duration_s
    current.metrics = payload["metrics"]
    current.field_sources = payload["field_sources"]
    current.reason = group.reason
    current.fingerprint = change.fingerprint
    current.updated_at = change.occurred
    events.append(announcement(WORKOUT_RESOLVED, scope.user_id, payload, change.occurred))
    return True


LINK_COLUMNS: Final = ("canonical_id", "is_primary", "duplicate_of", "decision_reason")


def _relink(
    group: Group, canonical_id: uuid.UUID, rows: Mapping[uuid.UUID, SourceRecord]
) -> list[dict[str, Any]]:
    """The group's records whose placement changed, as rows for one bulk UPDATE.

    The loaded objects take the new values as their committed state, so the
    flush does not write them again row by row.
    """
    primary_id = group.primary.record.id
    changed: list[dict[str, Any]] = []
    for decision, is_primary in (
        (group.primary, True),
        *((d, False) for d in group.duplicates),
    ):
        row = rows[decision.record.id]
        placed = (canonical_id, is_primary, None if is_primary else primary_id, decision.reason)
        if (row.canonical_id, row.is_primary, row.duplicate_of, row.decision_reason) == placed:
            continue
        values = dict(zip(LINK_COLUMNS, placed, strict=True))
        for name, value in values.items():
            set_committed_value(row, name, value)
        changed.append({"id": row.id, **values})
    return changed


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
    payload = {
        "canonical_id": str(gone.id),
        "primary_record_id": str(gone.primary_record_id),
        "superseded_by": None if superseded_by is None else str(superseded_by),
        "reason": reason,
    }
    return announcement(WORKOUT_UNRESOLVED, gone.user_id, payload, occurred)
