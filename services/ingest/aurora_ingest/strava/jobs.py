"""Strava job handlers: fetch and store one activity, confirm a delete, backfill history.

Every stored fact comes from Strava's API with the owner's token, never from a
webhook (events are unsigned). The API is also the only judge of a deletion:
an activity is removed only when GET /activities/{id} answers 404, and a
"delete" event for an activity that still exists re-syncs it instead. So an
"activity" job and a "delete" job run the same reconciliation; the kinds stay
apart only so that a delete waiting in the queue is never absorbed by a fetch.

Each handler commits at its own edge (kit.sessions), after all provider calls:
no transaction is held open across the network.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.connections import service as connections
from aurora_ingest.connections.models import Connection
from aurora_ingest.connections.tokens import degrade
from aurora_ingest.jobs.runner import JobHandler
from aurora_ingest.jobs.service import Job, JobCancelled, JobRescheduled, enqueue
from aurora_ingest.providers.http import (
    ProviderAuthError,
    ProviderNotFound,
    ProviderResponse,
    ProviderUnavailable,
)
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.raw.service import store_raw
from aurora_ingest.records.models import Record
from aurora_ingest.records.rules import WorkoutFields
from aurora_ingest.records.service import remove_by_external_id, store_workout
from aurora_ingest.strava.client import MAX_PER_PAGE, StravaClient
from aurora_ingest.strava.errors import MappingError
from aurora_ingest.strava.mapping import ActivitySummary, athlete_id, summary_of, workout_fields

log = logging.getLogger("aurora.ingest.strava.jobs")

PROVIDER: Final[str] = "strava"
SOURCE: Final[str] = "strava"
# A re-sync looks this far behind the newest stored start: activities synced
# late from a device (start days ago, upload today) are still found.
RESYNC_OVERLAP_S: Final[int] = 7 * 86_400


def _activity_id(job: Job) -> int:
    value = job.payload.get("activity_id")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise JobCancelled(f"strava job {job.key!r} names no activity")


async def _token(kit: ProviderKit, job: Job) -> str:
    if job.connection_id is None:
        raise JobCancelled("strava job without a connection")
    return await connections.access_token(kit, job.connection_id)


async def _connection(session: AsyncSession, job: Job) -> Connection:
    """The job's connection, still usable; a revocation that raced the fetch wins."""
    connection = await session.get(Connection, job.connection_id)
    if connection is None or connection.status == "revoked":
        raise JobCancelled("strava connection was revoked meanwhile")
    return connection


def _fields(activity: Any, laps: Any, streams: Any) -> WorkoutFields:
    """The workout; streams that cannot be trusted are dropped rather than the workout."""
    try:
        return workout_fields(activity, laps=laps, streams=streams)
    except MappingError as exc:
        if streams is None:
            raise
        fields = workout_fields(activity, laps=laps)
        log.warning("strava streams rejected", extra={"reason": str(exc)})
        return dataclasses.replace(fields, details={**fields.details, "samples_rejected": str(exc)})


async def _optional(call: Awaitable[ProviderResponse]) -> ProviderResponse | None:
    """Streams and laps of a manual activity answer 404: that is "none", not a failure."""
    try:
        return await call
    except ProviderNotFound:
        return None


async def _remove(kit: ProviderKit, job: Job, activity_id: int) -> None:
    async with kit.sessions() as session, session.begin():
        await _connection(session, job)
        removed = await remove_by_external_id(
            session, user_id=job.user_id, source=SOURCE, external_id=str(activity_id)
        )
    log.info("strava activity gone at the provider", extra={"removed": removed})


async def reconcile_activity(kit: ProviderKit, job: Job) -> None:
    """Make the record match what Strava's API says about one activity now."""
    activity_id = _activity_id(job)
    token = await _token(kit, job)
    client = StravaClient(kit)
    try:
        detail = await client.get_activity(activity_id, token)
    except ProviderNotFound:
        await _remove(kit, job, activity_id)
        return
    activity = detail.json()
    if not isinstance(activity, dict):
        raise ProviderUnavailable("activity answer is not an object")
    streams = await _optional(client.get_streams(activity_id, token))
    laps = None
    if not isinstance(activity.get("laps"), list):
        laps = await _optional(client.get_laps(activity_id, token))
    fields = _fields(
        activity,
        laps.json() if laps is not None else None,
        streams.json() if streams is not None else None,
    )
    async with kit.sessions() as session, session.begin():
        connection = await _connection(session, job)
        owner = athlete_id(activity)
        if owner != connection.provider_user_id:
            # A forged event can name anyone's public activity: never store it as ours.
            log.warning("strava activity of another athlete refused")
            return
        raw_id = await store_raw(
            session,
            user_id=job.user_id,
            provider=PROVIDER,
            kind="activity",
            external_id=str(activity_id),
            body=detail.body,
        )
        for kind, extra in (("streams", streams), ("laps", laps)):
            if extra is not None:
                await store_raw(
                    session,
                    user_id=job.user_id,
                    provider=PROVIDER,
                    kind=kind,
                    external_id=str(activity_id),
                    body=extra.body,
                )
        await store_workout(
            session,
            user_id=job.user_id,
            source=SOURCE,
            external_id=str(activity_id),
            fields=fields,
            raw_id=raw_id,
        )


def _summaries(items: list[Any]) -> list[ActivitySummary]:
    summaries = []
    for item in items:
        try:
            summaries.append(summary_of(item))
        except MappingError as exc:
            log.warning("strava list item skipped", extra={"reason": str(exc)})
    return summaries


async def _stored_fingerprints(
    session: AsyncSession, job: Job, summaries: list[ActivitySummary]
) -> dict[str, str | None]:
    ids = [str(s.activity_id) for s in summaries]
    if not ids:
        return {}
    rows = await session.execute(
        select(Record.external_id, Record.details["fingerprint"].astext).where(
            Record.user_id == job.user_id,
            Record.source == SOURCE,
            Record.external_id.in_(ids),
            Record.deleted_at.is_(None),
        )
    )
    return {external_id: fingerprint for external_id, fingerprint in rows}


async def _resume_after(kit: ProviderKit, job: Job) -> int | None:
    """Epoch seconds the list starts after: everything on a first sync, else an overlap."""
    if job.payload.get("full") is True:
        return None
    async with kit.sessions() as session:
        connection = await _connection(session, job)
        synced = connection.last_synced_at
        if synced is None or synced < connection.connected_at:
            return None  # never synced under the current grant: take the whole history
        newest = await session.scalar(
            select(Record.start_at)
            .where(
                Record.user_id == job.user_id,
                Record.source == SOURCE,
                Record.deleted_at.is_(None),
            )
            .order_by(Record.start_at.desc())
            .limit(1)
        )
    if newest is None:
        return None
    return int(newest.timestamp()) - RESYNC_OVERLAP_S


async def backfill(kit: ProviderKit, job: Job) -> None:
    """One page of the athlete's activity list per run; the cursor rides in the payload.

    The window (`after`, `before`) is fixed on the first run, so pages do not
    shift while new activities arrive (webhooks bring those). Each listed
    activity that is new or changed (per its fingerprint) gets an "activity"
    job, coalesced with any webhook-queued twin. A 429 or a spent budget leaves
    the payload untouched, so the same page is asked again when the window
    opens; nothing is skipped and nothing queued twice.
    """
    now = kit.clock()
    payload: dict[str, Any] = dict(job.payload)
    if "before" not in payload:
        payload["before"] = int(now.timestamp())
        payload["after"] = await _resume_after(kit, job)
        payload["page"] = 1
        payload["queued"] = 0
    page = int(payload["page"])
    token = await _token(kit, job)
    answer = await StravaClient(kit).list_activities(
        token, page=page, per_page=MAX_PER_PAGE, after=payload["after"], before=payload["before"]
    )
    items = answer.json()
    if not isinstance(items, list):
        raise ProviderUnavailable("activity list is not an array")
    summaries = _summaries(items)
    async with kit.sessions() as session, session.begin():
        connection = await _connection(session, job)
        owner = connection.provider_user_id
        stored = await _stored_fingerprints(session, job, summaries)
        for summary in summaries:
            if summary.athlete_id not in (None, owner):
                continue
            if not summary.needs_fetch(stored.get(str(summary.activity_id))):
                continue
            await enqueue(
                session,
                provider=PROVIDER,
                kind="activity",
                key=f"{owner}:{summary.activity_id}",
                user_id=job.user_id,
                connection_id=connection.id,
                payload={"activity_id": summary.activity_id, "owner_id": owner},
            )
            payload["queued"] += 1
        last_page = len(items) < MAX_PER_PAGE
        if last_page or page >= kit.settings.sync_max_pages:
            if not last_page:
                log.warning(
                    "strava backfill stopped at the page limit",
                    extra={"pages": page, "limit": kit.settings.sync_max_pages},
                )
            await connections.mark_synced(session, connection.id, at=now)
            log.info("strava backfill done", extra={"pages": page, "queued": payload["queued"]})
            return
    raise JobRescheduled(not_before=now, payload={**payload, "page": page + 1})


def degrading_on_refusal(handler: JobHandler) -> JobHandler:
    """Strava refusing a token we hold as valid (401/403) means the grant is gone or too
    narrow: retrying cannot help, so the connection is degraded (the API shows a reconnect
    hint) and the job cancelled, instead of burning attempts and rate budget."""

    @functools.wraps(handler)
    async def guarded(kit: ProviderKit, job: Job) -> None:
        try:
            await handler(kit, job)
        except ProviderAuthError as exc:
            async with kit.sessions() as session, session.begin():
                connection = await _connection(session, job)
                reason = f"Strava refused the token: {exc.reason}"
                failure = degrade(connection, reason, kit.clock())
            raise failure from exc

    return guarded


HANDLERS: dict[str, JobHandler] = {
    "activity": degrading_on_refusal(reconcile_activity),
    "delete": degrading_on_refusal(reconcile_activity),
    "backfill": degrading_on_refusal(backfill),
}
