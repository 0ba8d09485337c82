"""Re-electing a user's health days after a change, and telling the world what changed.

A day's view is a function of the set of that day's active records, so
re-electing only the dates an event touched (its old and its new date) gives
the state a full re-election would give. A view is written, and `health.resolved`
published, only when the fingerprint of its payload changed; the payload
format is described in health/events.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.db import BUS, STREAM
from aurora_dedup.health import repository
from aurora_dedup.health.events import HEALTH_RESOLVED
from aurora_dedup.health.orm import HealthDay, HealthRecord
from aurora_dedup.publishing import after, announcement, change_of, iso
from aurora_dedup.resolution import health as rules
from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.outbox import enqueue

HealthPriorities = Mapping[str, Mapping[str, int]]
REMOVED_REASON: Final = "every record of the day was removed by its source"
log = logging.getLogger("aurora.dedup.health")


def rule_record(row: HealthRecord) -> rules.HealthRecord:
    assert row.local_date is not None and row.start_at is not None
    return rules.HealthRecord(
        id=row.id,
        source=row.source,
        external_id=row.external_id,
        origin_device=row.origin_device,
        kind=row.kind,
        day=row.local_date,
        start=row.start_at,
        end=row.end_at,
        metrics=row.metrics or {},
        nap=row.nap,
    )


def _primary(decision: rules.RecordDecision | None, rows: Mapping[uuid.UUID, HealthRecord]) -> Any:
    if decision is None:
        return None
    row = rows[decision.record.id]
    return {
        "record_id": str(row.id),
        "kind": row.kind,
        "source": row.source,
        "origin_device": row.origin_device,
        "recorded_by": decision.record.recorded_by,
        "external_id": row.external_id,
        "start": iso(row.start_at),
        "end": iso(row.end_at),
        "tz_offset_min": row.tz_offset_min,
        "metrics": row.metrics,
    }


def decision_entry(decision: rules.RecordDecision) -> dict[str, Any]:
    record = decision.record
    return {
        "record_id": str(record.id),
        "kind": record.kind,
        "source": record.source,
        "origin_device": record.origin_device,
        "recorded_by": record.recorded_by,
        "role": decision.role,
        "reason": decision.reason,
    }


def day_payload(
    user_id: uuid.UUID, view: rules.DayView, rows: Mapping[uuid.UUID, HealthRecord]
) -> dict[str, Any]:
    return {
        "user_id": str(user_id),
        "date": view.day.isoformat(),
        "removed": False,
        "sleep": _primary(view.sleep, rows),
        "recovery": _primary(view.recovery, rows),
        "duplicate_record_ids": [str(d.record.id) for d in view.duplicates],
        "records": [decision_entry(d) for d in view.decisions],
        "metrics": dict(view.metrics),
        "field_sources": {
            name: {"record_id": str(s.record_id), "source": s.source, "kind": s.kind}
            for name, s in view.field_sources.items()
        },
        "reasons": {
            "sleep": None if view.sleep is None else view.sleep.reason,
            "recovery": None if view.recovery is None else view.recovery.reason,
        },
        "reason": view.reason,
    }


def removed_payload(user_id: uuid.UUID, day: date) -> dict[str, Any]:
    return {
        "user_id": str(user_id),
        "date": day.isoformat(),
        "removed": True,
        "sleep": None,
        "recovery": None,
        "duplicate_record_ids": [],
        "records": [],
        "metrics": {},
        "field_sources": {},
        "reasons": {"sleep": None, "recovery": None},
        "reason": REMOVED_REASON,
    }


def _record_verdicts(view: rules.DayView, rows: Mapping[uuid.UUID, HealthRecord]) -> None:
    for decision in view.decisions:
        row = rows[decision.record.id]
        # Assigning an equal value leaves the row clean: no UPDATE for an unchanged verdict.
        row.role = decision.role
        row.decision_reason = decision.reason


async def reelect(
    session: AsyncSession,
    user_id: uuid.UUID,
    dates: Collection[date] | None,
    priorities: HealthPriorities = rules.DEFAULT_HEALTH_PRIORITIES,
) -> list[Envelope]:
    """Re-elect the dates (all of the user's days when None); enqueue and return the events."""
    found = await repository.active_records(session, user_id, dates)
    rows = {row.id: row for row in found}
    views = rules.elect((rule_record(r) for r in found), priorities)
    old = await repository.days(session, user_id, dates)
    now = datetime.now(UTC)
    events: list[Envelope] = []

    for day in sorted(old.keys() - views.keys()):
        gone = old[day]
        events.append(
            announcement(
                HEALTH_RESOLVED, user_id, removed_payload(user_id, day), after(now, gone.updated_at)
            )
        )
        await session.delete(gone)

    for day, view in views.items():
        _record_verdicts(view, rows)
        payload = day_payload(user_id, view, rows)
        current = old.get(day)
        change = change_of(current, payload, now)
        if change is None:
            continue
        if current is None:
            current = HealthDay(user_id=user_id, local_date=day)
            session.add(current)
        current.sleep_record_id = None if view.sleep is None else view.sleep.record.id
        current.recovery_record_id = None if view.recovery is None else view.recovery.record.id
        current.metrics = payload["metrics"]
        current.field_sources = payload["field_sources"]
        current.reasons = {**payload["reasons"], "records": payload["records"]}
        current.reason = view.reason
        current.fingerprint = change.fingerprint
        current.updated_at = change.occurred
        events.append(announcement(HEALTH_RESOLVED, user_id, payload, change.occurred))
    await session.flush()
    await enqueue(session, BUS.outbox, STREAM, events)
    log.info(
        "health days re-elected",
        extra={
            "user_id": str(user_id),
            "records": len(rows),
            "days": len(views),
            "events": len(events),
        },
    )
    return events
