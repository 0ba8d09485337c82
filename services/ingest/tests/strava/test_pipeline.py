"""Webhook to record: event POST -> queued job -> API fetch -> record + outbox event."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import respx

from aurora_ingest.connections.models import Connection
from aurora_ingest.providers.kit import ProviderKit

Factory = Any
API = "https://www.strava.com/api/v3"


async def test_hundred_identical_create_webhooks_make_one_record_and_one_event(
    client: httpx.AsyncClient,
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_event: Factory,
    make_activity: Factory,
    make_streams: Factory,
    run_jobs: Any,
) -> None:
    detail = respx_mock.get(f"{API}/activities/4242").respond(200, json=make_activity())
    respx_mock.get(f"{API}/activities/4242/streams").respond(200, json=make_streams(points=10))
    body = json.dumps(make_event())
    for _ in range(100):
        response = await client.post(
            "/webhooks/strava", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
    assert respx_mock.calls.call_count == 0  # nothing fetched while answering Strava
    assert await run_jobs(kit) == 1
    assert detail.call_count == 1
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1
    rows = await db.fetch("SELECT event_type, envelope::text AS e FROM ingest.outbox")
    assert [r["event_type"] for r in rows] == ["workout.ingested"]
    envelope = json.loads(rows[0]["e"])
    assert envelope["user_id"] == str(connection.user_id)
    payload = envelope["payload"]
    assert payload["source"] == "strava"
    assert payload["external_id"] == "4242"
    assert payload["sport"] == "mountain_bike"
    assert payload["origin_device"] == "Garmin Edge 530"
    assert payload["start"] == "2018-02-16T14:52:54Z"
    assert payload["duration_s"] == 4410.0


async def test_delete_webhook_removes_only_after_strava_confirms(
    client: httpx.AsyncClient,
    kit: ProviderKit,
    connection: Connection,
    db: asyncpg.Connection,
    respx_mock: respx.MockRouter,
    make_event: Factory,
    make_activity: Factory,
    run_jobs: Any,
) -> None:
    detail = respx_mock.get(f"{API}/activities/4242").respond(200, json=make_activity())
    respx_mock.get(f"{API}/activities/4242/streams").respond(404)
    await client.post("/webhooks/strava", json=make_event())
    await run_jobs(kit)
    detail.respond(404, json={"message": "Record Not Found"})
    await client.post("/webhooks/strava", json=make_event(aspect_type="delete"))
    await run_jobs(kit)
    rows = await db.fetch("SELECT event_type FROM ingest.outbox ORDER BY id")
    assert [r["event_type"] for r in rows] == ["workout.ingested", "workout.removed"]
    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM ingest.records")
