"""POST /webhooks/whoop: signed events in, durable jobs out, no provider call.

The signature covers the exact bytes received (checklist 17-18), so the body is
read raw and verified before anything parses it; a missing, wrong or stale
signature answers 401 with the same problem whatever failed. Only then is the
event read, and it is only a hint: the job fetches the object with the owner's
token, so what gets stored is what WHOOP's API says.

An event of an account nobody has connected, of a type we do not handle, or in
the legacy v1 model (integer ids, which the v2 API cannot look up) answers 200
and does nothing: a 4xx would only make WHOOP retry it.

Replays (same type, id and trace_id) are processed once: the key is marked in
Redis after the job's transaction has committed (a background task runs only
after the response, which FastAPI sends after the commit), so a failed commit
never swallows WHOOP's retry; two copies racing each other meet in the job
queue, where a pending job absorbs its twin.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.connections.repository import find_by_provider_user
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.providers.kit import ProviderKit, kit_of
from aurora_ingest.providers.webhooks import read_capped_body
from aurora_ingest.whoop import signature
from aurora_ingest.whoop.schemas import WebhookEvent
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

log = logging.getLogger("aurora.ingest.whoop.webhooks")

router = APIRouter(prefix="/webhooks/whoop", tags=["webhooks"])

Session = Annotated[AsyncSession, Depends(request_session)]
Kit = Annotated[ProviderKit, Depends(kit_of)]

PROVIDER = "whoop"
# Real events are ~150 bytes; anything near this is not WHOOP.
MAX_EVENT_BYTES = 16 * 1024
# WHOOP retries a delivery for hours; a replay inside a day is recognised.
REPLAY_TTL_S = 86_400
REPLAY_PREFIX = "aurora:ingest:whoop:webhook"

# Event type -> job kind. Updates fetch; deletions remove what we stored.
JOB_KINDS: dict[str, str] = {
    "workout.updated": "workout",
    "sleep.updated": "sleep",
    "recovery.updated": "recovery",
    "workout.deleted": "workout_deleted",
    "sleep.deleted": "sleep_deleted",
    "recovery.deleted": "recovery_deleted",
}


class WebhookOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["queued", "duplicate", "ignored"]


def replay_key(event: WebhookEvent) -> str:
    digest = hashlib.sha256(f"{event.type}\n{event.id}\n{event.trace_id}".encode()).hexdigest()
    return f"{REPLAY_PREFIX}:{digest}"


async def _mark_seen(redis: Redis, key: str) -> None:
    try:
        await redis.set(key, "1", ex=REPLAY_TTL_S)
    except Exception:  # a lost mark only costs one idempotent re-fetch
        log.warning("could not mark a WHOOP webhook as seen", exc_info=True)


@router.post("", response_model=WebhookOut)
async def receive(
    request: Request, session: Session, kit: Kit, background: BackgroundTasks
) -> WebhookOut:
    body = await read_capped_body(request, MAX_EVENT_BYTES)
    secret = kit.settings.whoop_client_secret.get_secret_value()
    if not secret:
        raise ProblemError(503, "WHOOP is not configured")
    reason = signature.problem(
        body,
        request.headers.get(signature.TIMESTAMP_HEADER),
        request.headers.get(signature.SIGNATURE_HEADER),
        secret,
        kit.clock(),
        tolerance_s=kit.settings.whoop_webhook_tolerance_s,
    )
    if reason is not None:
        log.warning("WHOOP webhook refused", extra={"reason": reason})
        raise ProblemError(401, "invalid or missing webhook signature")
    try:
        event = WebhookEvent.model_validate_json(body)
    except ValidationError:
        # Signed by WHOOP yet unreadable: retrying cannot fix it, so acknowledge.
        log.warning("WHOOP webhook body not understood")
        return WebhookOut(status="ignored")
    kind = JOB_KINDS.get(event.type)
    if kind is None or not isinstance(event.id, uuid.UUID):
        log.info("WHOOP webhook ignored", extra={"type": event.type})
        return WebhookOut(status="ignored")
    key = replay_key(event)
    if await kit.redis.exists(key):
        return WebhookOut(status="duplicate")
    connection = await find_by_provider_user(session, PROVIDER, str(event.user_id))
    if connection is None:
        return WebhookOut(status="ignored")
    await enqueue(
        session,
        provider=PROVIDER,
        kind=kind,
        key=f"{connection.user_id}:{event.id}",
        user_id=connection.user_id,
        connection_id=connection.id,
        payload={"id": str(event.id), "trace_id": event.trace_id},
    )
    background.add_task(_mark_seen, kit.redis, key)
    return WebhookOut(status="queued")
