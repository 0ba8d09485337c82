"""Upload to `workout.ingested` on the stream: API, job, outbox and relay, all real.

PostgreSQL and Redis are the test servers; the job runs as the tasks process runs
it, and ingest's own relay moves the outbox row onto `ingest.records`, where
dedup's consumer group reads it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_ingest.db import SCHEMA, STREAM
from aurora_ingest.providers.kit import ProviderKit
from aurora_shared.bus.relay import OutboxRelay

from ..fit.encoder import SessionSpec, activity_file
from .conftest import RunJobs, post_file


async def stream_events(redis: Redis) -> list[dict[str, Any]]:
    events = []
    for _, fields in await redis.xrange(STREAM):
        raw = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        events.append(json.loads(raw["event"]))
    return events


async def test_an_uploaded_triathlon_reaches_the_stream_as_workout_ingested_events(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    data = activity_file(
        sessions=(
            SessionSpec("swimming", "open_water", 30),
            SessionSpec("transition", "generic", 5),
            SessionSpec("cycling", "road", 40),
            SessionSpec("transition", "generic", 5),
            SessionSpec("running", "generic", 20),
        ),
        hrv=True,
    )
    response = await post_file(uploads_client, alice, data, filename="triathlon.fit")
    assert response.status_code == 202
    await run_jobs(kit)
    relay = OutboxRelay(engine, redis, SCHEMA, service="ingest")
    assert await relay.drain() == 5

    events = await stream_events(redis)
    assert [e["type"] for e in events] == ["workout.ingested"] * 5
    payloads = [e["payload"] for e in events]
    assert {e["user_id"] for e in events} == {str(alice_id(alice))}
    assert [p["sport"] for p in payloads][0::2] == ["swim", "ride", "run"]
    assert all(p["source"] == "garmin" for p in payloads)
    assert all(p["origin_device"] and "Garmin" in p["origin_device"] for p in payloads)
    parents = {p["details"]["parent_activity"] for p in payloads}
    assert len(parents) == 1  # the sessions are grouped under one activity
    ride = payloads[2]
    assert ride["duration_s"] == 40.0
    samples = ride["samples"]
    assert len(samples["t"]) == 40
    assert samples["hr"][0] is not None and samples["power"][0] is not None
    detail = (await uploads_client.get(f"/uploads/{response.json()['id']}", headers=alice)).json()
    assert sorted(detail["files"][0]["record_ids"]) == sorted(p["record_id"] for p in payloads)

    # Uploading it again publishes nothing new.
    await post_file(uploads_client, alice, data, filename="triathlon.fit")
    await run_jobs(kit)
    assert await relay.drain() == 0
    assert len(await stream_events(redis)) == 5


def alice_id(headers: dict[str, str]) -> str:
    import base64

    payload = headers["Authorization"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])
