"""Applying ingest's health events, re-electing days on demand, reading and erasing them.

Each health record is a last-writer-wins register, exactly like a workout's
source record (registers.py): an event changes it only when its version is newer
than the current one's; a removal leaves a tombstone. Since a day's view depends
only on the set of its active records, the final state is the same for every
arrival order.

The athlete's health priorities come from `load_priorities` (by default their
choices stored by /priorities), so a new record is elected with the same order
an override re-election used and an event never undoes an override.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import date
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup import registers
from aurora_dedup.controls import repository as controls_repository
from aurora_dedup.health import days, repository
from aurora_dedup.health.events import (
    HEALTH_INGESTED,
    HEALTH_REMOVED,
    HealthIngested,
    HealthRemoved,
)
from aurora_dedup.health.orm import HealthDay, HealthRecord
from aurora_dedup.health.schemas import (
    DailyHealthItem,
    ExportedHealthDay,
    ExportedHealthRecord,
    HealthDecisionRef,
    HealthFieldSource,
    HealthRecordRef,
)
from aurora_dedup.registers import Claim, ContractViolationError, Version, lock_user
from aurora_dedup.resolution.health import DEFAULT_HEALTH_PRIORITIES, ELECTED_KINDS
from aurora_dedup.resolution.priority import recording_source
from aurora_shared.bus.consumer import Handler
from aurora_shared.bus.envelope import Envelope

log = logging.getLogger("aurora.dedup.health")

HealthPriorities = days.HealthPriorities
PriorityLoader = Callable[[AsyncSession, uuid.UUID], Awaitable[HealthPriorities]]
M = TypeVar("M", HealthIngested, HealthRemoved)


async def default_priorities(session: AsyncSession, user_id: uuid.UUID) -> HealthPriorities:
    """DESIGN.md's order whatever the athlete chose (tools, tests)."""
    return DEFAULT_HEALTH_PRIORITIES


async def athlete_priorities(session: AsyncSession, user_id: uuid.UUID) -> HealthPriorities:
    """The athlete's sleep and recovery choices from /priorities, over the defaults."""
    chosen = await controls_repository.chosen_priorities(session, user_id)
    return {kind: chosen[kind] for kind in ELECTED_KINDS if kind in chosen}


def _parse(model: type[M], event: Envelope) -> M:
    try:
        return model.model_validate(event.payload)
    except ValidationError as exc:
        raise ContractViolationError(f"{event.type} {event.id}: {exc}") from exc


async def _claim(
    session: AsyncSession, event: Envelope, payload_model: type[M]
) -> Claim[M, HealthRecord] | None:
    """The event's record; a record never changes its kind, and a malformed payload is
    a ContractViolationError."""
    return await registers.claim(
        session, HealthRecord, event, partial(_parse, payload_model), log=log, fixed=("kind",)
    )


def _placeholder_role(payload: HealthIngested) -> str:
    """A valid role so the row can be flushed and found by the election, which
    overwrites it before the transaction ends."""
    if payload.kind == "daily":
        return "daily"
    return "nap" if payload.nap else "duplicate"


async def apply_health_ingested(
    session: AsyncSession,
    event: Envelope,
    *,
    load_priorities: PriorityLoader = athlete_priorities,
) -> None:
    claim = await _claim(session, event, HealthIngested)
    if claim is None:
        return
    payload, row = claim.payload, claim.row
    touched = {payload.date, *_old_date(claim)}
    row.origin_device = payload.origin_device
    row.local_date = payload.date
    row.start_at = payload.start
    row.end_at = payload.end
    row.tz_offset_min = payload.tz_offset_min
    row.metrics = dict(payload.metrics)
    row.nap = payload.nap
    row.removed = False
    row.role = _placeholder_role(payload)
    row.decision_reason = "pending election"
    row.stamp(claim.version)
    await session.flush()
    priorities = await load_priorities(session, row.user_id)
    await days.reelect(session, row.user_id, touched, priorities)
    log.info("health record applied", extra={"event_id": str(event.id), "record_id": str(row.id)})


async def apply_health_removed(
    session: AsyncSession,
    event: Envelope,
    *,
    load_priorities: PriorityLoader = athlete_priorities,
) -> None:
    """A removal before its ingest leaves a tombstone, so the late ingest stays buried."""
    claim = await _claim(session, event, HealthRemoved)
    if claim is None:
        return
    row = claim.row
    touched = _old_date(claim)
    _bury(row, claim.version)
    await session.flush()
    if touched:
        priorities = await load_priorities(session, row.user_id)
        await days.reelect(session, row.user_id, touched, priorities)
    log.info("health record removed", extra={"event_id": str(event.id), "record_id": str(row.id)})


def _old_date(claim: Claim[M, HealthRecord]) -> set[date]:
    """The day the record belonged to before this event: it needs a new election too."""
    old = None if claim.is_new else claim.row.local_date
    return set() if old is None else {old}


def _bury(row: HealthRecord, version: Version) -> None:
    """Keep only identity and version: nothing of a removed record stays readable."""
    row.local_date = None
    row.metrics = None
    row.nap = False
    row.role = None
    row.bury(version)


def handlers(load_priorities: PriorityLoader = athlete_priorities) -> dict[str, Handler]:
    """The handlers of health events on `ingest.records`, electing with the athlete's order."""
    return {
        HEALTH_INGESTED: partial(apply_health_ingested, load_priorities=load_priorities),
        HEALTH_REMOVED: partial(apply_health_removed, load_priorities=load_priorities),
    }


async def reresolve_health(
    session: AsyncSession,
    user_id: uuid.UUID,
    dates: Iterable[date] | None = None,
    priorities: HealthPriorities | None = None,
) -> None:
    """Re-elect the dates (None: every day of the user), e.g. after a priority override.

    Takes the user's lock itself; taking it again in one transaction is harmless.
    """
    await lock_user(session, user_id)
    wanted = None if dates is None else set(dates)
    await days.reelect(session, user_id, wanted, priorities or DEFAULT_HEALTH_PRIORITIES)


async def reresolve_after_override(session: AsyncSession, user_id: uuid.UUID, domain: str) -> None:
    """Every day of the user with their stored order: the hook /priorities calls on a change.

    Matches controls.service.HealthReresolver; `domain` ("sleep" or "recovery")
    is not needed, as each day is re-elected for both kinds.
    """
    await reresolve_health(session, user_id, None, await athlete_priorities(session, user_id))


# -- reading ---------------------------------------------------------------------------


def _ref(row: HealthRecord | None) -> HealthRecordRef | None:
    if row is None:
        return None
    return HealthRecordRef(
        record_id=row.id,
        kind=row.kind,
        source=row.source,
        origin_device=row.origin_device,
        recorded_by=recording_source(row.source, row.origin_device),
        start=row.start_at,
        end=row.end_at,
    )


def _item(day: HealthDay, records: dict[uuid.UUID, HealthRecord]) -> DailyHealthItem:
    entries: list[dict[str, Any]] = day.reasons.get("records", [])
    return DailyHealthItem(
        date=day.local_date,
        sleep=_ref(records.get(day.sleep_record_id) if day.sleep_record_id else None),
        recovery=_ref(records.get(day.recovery_record_id) if day.recovery_record_id else None),
        metrics=day.metrics,
        field_sources={
            name: HealthFieldSource.model_validate(source)
            for name, source in day.field_sources.items()
        },
        duplicates=[
            HealthDecisionRef(
                record_id=e["record_id"],
                kind=e["kind"],
                source=e["source"],
                origin_device=e["origin_device"],
                role=e["role"],
                reason=e["reason"],
            )
            for e in entries
            if e["role"] in ("duplicate", "nap")
        ],
        reason=day.reason,
        updated_at=day.updated_at,
    )


async def daily_views(
    session: AsyncSession, user_id: uuid.UUID, page: repository.DaysPage
) -> list[DailyHealthItem]:
    rows = await repository.days_for_user(session, user_id, page)
    primaries = {
        rid for row in rows for rid in (row.sleep_record_id, row.recovery_record_id) if rid
    }
    records = await repository.records_by_id(session, user_id, primaries)
    return [_item(row, records) for row in rows]


# -- erasure and export (the lead wires them into accounts) -----------------------------


async def erase_health_rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """Every health row of the user; the caller holds the user's lock (purge_user does)."""
    return await repository.erase_rows(session, user_id)


async def exported_health_days(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedHealthDay]:
    async for row in repository.all_days(session, user_id):
        yield ExportedHealthDay.model_validate(row)


async def exported_health_records(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncIterator[ExportedHealthRecord]:
    async for row in repository.all_records(session, user_id):
        yield ExportedHealthRecord.model_validate(row)
