"""Keeping analytics' workouts in step with dedup's timeline, whatever the delivery order."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_analytics.accounts.orm import MIRROR
from aurora_analytics.workouts import repository
from aurora_analytics.workouts.events import WorkoutResolved, WorkoutUnresolved
from aurora_analytics.workouts.schemas import WorkoutItem, WorkoutPage
from aurora_shared.accounts import user_lock
from aurora_shared.bus.envelope import Envelope

log = logging.getLogger("aurora.analytics.workouts")


class ContractViolationError(ValueError):
    """An event that cannot be right; it ends in the dead-letter stream for an operator."""


def _identity(event: Envelope) -> tuple[uuid.UUID, dict[str, object]]:
    if event.user_id is None:
        raise ContractViolationError(f"{event.type} {event.id} carries no user_id")
    at = event.occurred_at
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return event.user_id, repository.version(at, event.id)


async def _user_gone(session: AsyncSession, user_id: uuid.UUID, event: Envelope) -> bool:
    """A deleted or erased user's events are dropped: the service no longer serves them.

    The shared user lock makes a purge (which holds it exclusively) wait for this
    transaction, and makes this one, if it comes second, see the erasure.
    """
    await user_lock(session, user_id, exclusive=False)
    if not await MIRROR.is_blocked(session, user_id):
        return False
    log.info(
        "event of a deleted user dropped",
        extra={"event_id": str(event.id), "event_type": event.type},
    )
    return True


async def apply_resolved(session: AsyncSession, event: Envelope) -> None:
    user_id, version = _identity(event)
    payload = WorkoutResolved.model_validate(event.payload)
    if await _user_gone(session, user_id, event):
        return
    applied = await repository.upsert_if_newer(
        session,
        {
            "canonical_id": payload.canonical_id,
            "user_id": user_id,
            "sport": payload.sport,
            "start_at": payload.start,
            "end_at": payload.end,
            "duration_s": payload.duration_s,
            "metrics": dict(payload.metrics),
            "primary_source": payload.primary.source,
            "removed": False,
            **version,
        },
    )
    _log(event, payload.canonical_id, applied)


async def apply_unresolved(session: AsyncSession, event: Envelope) -> None:
    user_id, version = _identity(event)
    payload = WorkoutUnresolved.model_validate(event.payload)
    if await _user_gone(session, user_id, event):
        return
    applied = await repository.upsert_if_newer(
        session,
        {
            "canonical_id": payload.canonical_id,
            "user_id": user_id,
            "sport": None,
            "start_at": None,
            "end_at": None,
            "duration_s": None,
            "metrics": None,
            "primary_source": None,
            "removed": True,
            **version,
        },
    )
    _log(event, payload.canonical_id, applied)


def _log(event: Envelope, canonical_id: uuid.UUID, applied: bool) -> None:
    log.info(
        "timeline event applied" if applied else "older timeline event ignored",
        extra={
            "event_id": str(event.id),
            "event_type": event.type,
            "canonical_id": str(canonical_id),
        },
    )


async def list_workouts(session: AsyncSession, user_id: uuid.UUID, *, limit: int) -> WorkoutPage:
    rows = await repository.live_for_user(session, user_id, limit=limit)
    return WorkoutPage(items=[WorkoutItem.model_validate(row) for row in rows])
