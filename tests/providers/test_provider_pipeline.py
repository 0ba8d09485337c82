"""Strava and Whoop end to end: connect, sync, webhooks, and the events arriving in dedup.

Provider HTTP is mocked with respx (no test touches the network); everything
else is real: ingest's API and provider kit on PostgreSQL and Redis, the job
queue drained as the ingest `tasks` process drains it, the outbox relays, and
dedup's own stream consumer building the timeline its API serves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr
from redis.asyncio import Redis

from aurora_dedup.app import create_app as dedup_app
from aurora_dedup.config import DedupSettings
from aurora_ingest.app import create_app as ingest_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.tasks import drain
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

from ..suite import Suite, running_suite

STRAVA_API = "https://www.strava.com/api/v3"
WHOOP_API = "https://api.prod.whoop.com/developer"
WHOOP_SECRET = "whoop-secret"
ATHLETE = 9_001
SUBSCRIPTION = 120_475
WHOOP_USER = 10_129
WORKOUT_ID = "ecfc6a15-4661-442f-a9a4-f160dd7afae8"


class Stack:
    def __init__(self, suite: Suite, ingest: httpx.AsyncClient, dedup: httpx.AsyncClient) -> None:
        self.suite = suite
        self.ingest = ingest
        self.dedup = dedup
        self.kit: ProviderKit = ingest._transport.app.state.provider_kit  # type: ignore[attr-defined]

    async def work(self) -> None:
        """The tasks process drains provider jobs; then every event settles."""
        await drain(self.kit)
        await self.suite.settle()

    async def timeline(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        response = await self.dedup.get("/timeline", headers=headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def connect(self, provider: str, headers: dict[str, str]) -> None:
        authorize = await self.ingest.get(f"/connections/{provider}/authorize", headers=headers)
        assert authorize.status_code == 200, authorize.text
        state = parse_qs(urlsplit(authorize.json()["authorize_url"]).query)["state"][0]
        callback = await self.ingest.get(
            f"/connections/{provider}/callback", params={"code": "one-time", "state": state}
        )
        assert callback.status_code == 200, callback.text


@pytest.fixture
async def stack(
    database_url: str, redis_url: str, redis: Redis, issuer: TestIssuer
) -> AsyncIterator[Stack]:
    settings = IngestSettings(
        database_url=database_url,
        redis_url=redis_url,
        token_keys=SecretStr("dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OTA="),
        state_secret=SecretStr("state-secret"),
        public_base_url="https://aurora.test",
        strava_client_id="1234",
        strava_client_secret=SecretStr("s3cr3t"),
        strava_verify_token=SecretStr("verify-me"),
        strava_subscription_id=SUBSCRIPTION,
        whoop_client_id="whoop-client",
        whoop_client_secret=SecretStr(WHOOP_SECRET),
    )
    async with running_suite(database_url, redis) as suite, AsyncExitStack() as apps:
        ingest = await apps.enter_async_context(
            running_app(ingest_app(settings, issuer.key_source()))
        )
        dedup = await apps.enter_async_context(
            running_app(
                dedup_app(
                    DedupSettings(database_url=database_url, redis_url=redis_url),
                    issuer.key_source(),
                )
            )
        )
        yield Stack(suite, ingest, dedup)


def strava_activity(name: str = "Morning Ride", elapsed: int = 3600) -> dict[str, Any]:
    return {
        "id": 777,
        "resource_state": 3,
        "athlete": {"id": ATHLETE},
        "name": name,
        "distance": 30_000.0,
        "moving_time": elapsed - 60,
        "elapsed_time": elapsed,
        "total_elevation_gain": 250.0,
        "type": "Ride",
        "sport_type": "Ride",
        "start_date": "2026-11-20T07:00:00Z",
        "start_date_local": "2026-11-20T08:00:00Z",
        "utc_offset": 3600,
        "manual": False,
        "average_heartrate": 141.0,
        "max_heartrate": 172.0,
        "average_watts": 210.0,
        "device_watts": True,
        "device_name": "Garmin Edge 530",
        "laps": [],
        "splits_metric": [],
    }


def strava_streams() -> dict[str, Any]:
    return {
        "time": {"data": [0, 1, 2], "original_size": 3, "resolution": "high"},
        "heartrate": {"data": [120, 121, 123], "original_size": 3, "resolution": "high"},
        "watts": {"data": [200, 210, 205], "original_size": 3, "resolution": "high"},
    }


def strava_event(aspect: str) -> dict[str, Any]:
    return {
        "aspect_type": aspect,
        "event_time": int(time.time()),
        "object_id": 777,
        "object_type": "activity",
        "owner_id": ATHLETE,
        "subscription_id": SUBSCRIPTION,
        "updates": {"title": "Renamed"} if aspect == "update" else {},
    }


def mock_strava(router: respx.MockRouter, activity: dict[str, Any]) -> None:
    router.post("https://www.strava.com/oauth/token").respond(
        200,
        json={
            "token_type": "Bearer",
            "access_token": "strava-access",
            "refresh_token": "strava-refresh",
            "expires_at": int(time.time()) + 6 * 3600,
            "expires_in": 6 * 3600,
            "athlete": {"id": ATHLETE},
        },
    )
    pages = iter([[{**activity, "resource_state": 2}], []])
    router.get(f"{STRAVA_API}/athlete/activities").mock(
        side_effect=lambda request: httpx.Response(200, json=next(pages, []))
    )
    router.get(f"{STRAVA_API}/activities/777/streams").respond(200, json=strava_streams())
    router.get(f"{STRAVA_API}/activities/777/laps").respond(200, json=[])


async def test_strava_connect_sync_update_and_delete_reach_dedup(
    stack: Stack, issuer: TestIssuer, respx_mock: respx.MockRouter
) -> None:
    user = uuid.uuid4()
    headers = issuer.headers(user)
    activity = respx_mock.get(f"{STRAVA_API}/activities/777")
    activity.respond(200, json=strava_activity())
    mock_strava(respx_mock, strava_activity())

    await stack.connect("strava", headers)
    await stack.work()
    (item,) = await stack.timeline(headers)
    assert item["sport"] == "ride"
    assert item["primary"]["source"] == "strava"
    assert item["primary"]["origin_device"] == "Garmin Edge 530"
    connections = (await stack.ingest.get("/connections", headers=headers)).json()["items"]
    assert [(c["provider"], c["status"]) for c in connections] == [("strava", "active")]
    assert connections[0]["last_synced_at"] is not None

    # Strava says the activity changed: the webhook is acknowledged, the API is asked.
    activity.respond(200, json=strava_activity(name="Renamed", elapsed=4000))
    posted = await stack.ingest.post("/webhooks/strava", json=strava_event("update"))
    assert posted.status_code == 200
    await stack.work()
    (item,) = await stack.timeline(headers)
    assert item["duration_s"] == 4000

    # A delete event is believed only when the API answers 404.
    posted = await stack.ingest.post("/webhooks/strava", json=strava_event("delete"))
    assert posted.status_code == 200
    await stack.work()
    assert len(await stack.timeline(headers)) == 1
    activity.respond(404, json={"message": "Record Not Found"})
    await stack.ingest.post("/webhooks/strava", json=strava_event("delete"))
    await stack.work()
    assert await stack.timeline(headers) == []


def whoop_workout() -> dict[str, Any]:
    return {
        "id": WORKOUT_ID,
        "v1_id": 1043,
        "user_id": WHOOP_USER,
        "created_at": "2026-11-20T09:30:00.000Z",
        "updated_at": "2026-11-20T09:35:00.000Z",
        "start": "2026-11-20T08:00:00.000Z",
        "end": "2026-11-20T09:00:00.000Z",
        "timezone_offset": "+01:00",
        "sport_name": "running",
        "sport_id": 0,
        "score_state": "SCORED",
        "score": {
            "strain": 12.5,
            "average_heart_rate": 150,
            "max_heart_rate": 181,
            "kilojoule": 2500.0,
            "percent_recorded": 100,
            "distance_meter": 10_000.0,
            "altitude_gain_meter": 40.0,
            "altitude_change_meter": 0.5,
            "zone_durations": {
                "zone_zero_milli": 0,
                "zone_one_milli": 600_000,
                "zone_two_milli": 1_200_000,
                "zone_three_milli": 1_200_000,
                "zone_four_milli": 600_000,
                "zone_five_milli": 0,
            },
        },
    }


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    digest = hmac.new(WHOOP_SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-WHOOP-Signature-Timestamp": stamp,
        "X-WHOOP-Signature": base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


async def test_whoop_connect_and_signed_webhook_reach_dedup(
    stack: Stack, issuer: TestIssuer, respx_mock: respx.MockRouter
) -> None:
    user = uuid.uuid4()
    headers = issuer.headers(user)
    respx_mock.post("https://api.prod.whoop.com/oauth/oauth2/token").respond(
        200,
        json={
            "access_token": "whoop-access",
            "refresh_token": "whoop-refresh",
            "expires_in": 3600,
            "scope": "offline read:workout read:sleep read:recovery read:cycles read:profile",
            "token_type": "bearer",
        },
    )
    respx_mock.get(f"{WHOOP_API}/v2/user/profile/basic").respond(
        200,
        json={"user_id": WHOOP_USER, "email": "a@example.com", "first_name": "A", "last_name": "B"},
    )
    empty: dict[str, Any] = {"records": [], "next_token": None}
    for path in ("activity/workout", "activity/sleep", "cycle", "recovery"):
        respx_mock.get(f"{WHOOP_API}/v2/{path}").respond(200, json=empty)
    respx_mock.get(f"{WHOOP_API}/v2/activity/workout/{WORKOUT_ID}").respond(
        200, json=whoop_workout()
    )
    respx_mock.get(url__regex=rf"{WHOOP_API}/v2/cycle/\d+.*").respond(404)

    await stack.connect("whoop", headers)
    await stack.work()
    assert await stack.timeline(headers) == []

    body = json.dumps(
        {"user_id": WHOOP_USER, "id": WORKOUT_ID, "type": "workout.updated", "trace_id": "t-1"}
    ).encode()
    forged = await stack.ingest.post(
        "/webhooks/whoop", content=body, headers={**signed(body), "X-WHOOP-Signature": "AAAA"}
    )
    assert forged.status_code == 401
    accepted = await stack.ingest.post("/webhooks/whoop", content=body, headers=signed(body))
    assert accepted.status_code == 200, accepted.text
    await stack.work()
    (item,) = await stack.timeline(headers)
    assert item["sport"] == "run"
    assert item["primary"]["source"] == "whoop"
