"""/webhooks/strava: the subscription handshake and the event receiver.

Strava's events are unsigned (developers.strava.com/docs/webhooks), so nothing
in one is believed: the subscription id must be ours and the owner a connected
athlete, or the event is acknowledged and dropped (a 4xx would only make Strava
retry a forgery). A believable event queues a job in the request's own
transaction and nothing else: the job fetches the activity with that owner's
token, so what gets stored is what Strava's API says, never what the event
says. No provider call happens here, so Strava's 2-second deadline holds.

A malformed body answers 400: Strava only sends well-formed events, so a bad
body is someone else's, and Strava retrying a real one (up to three times) is
harmless.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.connections import service as connections
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.providers.kit import ProviderKit, kit_of
from aurora_ingest.providers.webhooks import read_capped_body
from aurora_ingest.raw.service import store_raw
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

log = logging.getLogger("aurora.ingest.strava.webhooks")

router = APIRouter(prefix="/webhooks/strava", tags=["webhooks"])

Session = Annotated[AsyncSession, Depends(request_session)]
Kit = Annotated[ProviderKit, Depends(kit_of)]

PROVIDER = "strava"
# Real events are ~250 bytes; anything near this is not Strava.
MAX_EVENT_BYTES = 16 * 1024
MAX_CHALLENGE = 256


class StravaEvent(BaseModel):
    """One webhook event; strict, so "123" is not an id and a typo is not an aspect."""

    model_config = ConfigDict(strict=True, extra="ignore")

    aspect_type: Literal["create", "update", "delete"]
    event_time: int
    object_id: int = Field(gt=0)
    object_type: Literal["activity", "athlete"]
    owner_id: int = Field(gt=0)
    subscription_id: int
    updates: dict[str, Any] = Field(default_factory=dict, max_length=32)


class Challenge(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    hub_challenge: str = Field(serialization_alias="hub.challenge")


@router.get("", response_model=Challenge, response_model_by_alias=True)
async def verify_subscription(
    kit: Kit,
    mode: Annotated[str, Query(alias="hub.mode")],
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=MAX_CHALLENGE)],
    challenge: Annotated[str, Query(alias="hub.challenge", min_length=1, max_length=MAX_CHALLENGE)],
) -> Challenge:
    """Echo the challenge when the verify token is ours (constant-time comparison)."""
    expected = kit.settings.strava_verify_token.get_secret_value()
    if not expected:
        raise ProblemError(503, "Strava webhooks are not configured")
    if mode != "subscribe":
        raise ProblemError(400, "hub.mode must be subscribe")
    if not hmac.compare_digest(verify_token.encode(), expected.encode()):
        raise ProblemError(403, "verify token mismatch")
    return Challenge(hub_challenge=challenge)


def parse_event(body: bytes) -> StravaEvent:
    try:
        return StravaEvent.model_validate_json(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise ProblemError(400, "malformed Strava event", fields=fields) from exc


def deauthorized(event: StravaEvent) -> bool:
    """Strava sends the flag as the string "false"; a boolean false is accepted as well."""
    flag = event.updates.get("authorized")
    return (
        event.object_type == "athlete"
        and event.aspect_type == "update"
        and flag in ("false", False)
    )


@router.post("", status_code=200)
async def receive_event(request: Request, kit: Kit, session: Session) -> dict[str, str]:
    """Acknowledge at once; queue the work (or revoke) in this request's transaction."""
    subscription_id = kit.settings.strava_subscription_id
    if subscription_id is None:
        raise ProblemError(503, "Strava webhooks are not configured")
    body = await read_capped_body(request, MAX_EVENT_BYTES)
    event = parse_event(body)
    if event.subscription_id != subscription_id:
        log.warning("strava event for another subscription dropped")
        return {"status": "ignored"}
    connection = await connections.find_by_provider_user(session, PROVIDER, str(event.owner_id))
    if connection is None:
        log.info("strava event for an unknown athlete dropped")
        return {"status": "ignored"}
    await store_raw(
        session,
        user_id=connection.user_id,
        provider=PROVIDER,
        kind="webhook",
        external_id=str(event.object_id),
        body=body,
    )
    if event.object_type == "athlete":
        if not deauthorized(event):
            return {"status": "ignored"}  # profile changes carry nothing Aurora keeps
        if event.object_id != event.owner_id:
            log.warning("strava deauthorization naming another athlete dropped")
            return {"status": "ignored"}
        await connections.revoke_local(session, connection, reason="deauthorized on Strava")
        return {"status": "revoked"}
    # create, update (including a private/visibility change: the activity is still
    # the athlete's own data, so it is re-fetched and kept) and delete. A delete
    # is only a hint: the job removes the record only if the API answers 404.
    await enqueue(
        session,
        provider=PROVIDER,
        kind="delete" if event.aspect_type == "delete" else "activity",
        key=f"{event.owner_id}:{event.object_id}",
        user_id=connection.user_id,
        connection_id=connection.id,
        payload={"activity_id": event.object_id, "owner_id": str(event.owner_id)},
    )
    return {"status": "queued"}
