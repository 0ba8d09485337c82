"""An Apple Health export through the upload API: 202, the job, events, progress.

The import itself is tested in tests/apple; this pins the way in: `kind=apple_health`
on POST /uploads, the job the tasks process runs, and the upload's final status.
"""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_ingest.apple.jobs import handlers as apple_handlers
from aurora_ingest.db import SCHEMA
from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.jobs import handlers as upload_handlers
from aurora_ingest.uploads.settings import UploadSettings
from aurora_shared.bus.relay import OutboxRelay

from ..apple.exports import document, hr, sleep, workout, zipped
from .conftest import stored_files
from .test_e2e import stream_events

WATCH = "Apple Watch"


async def drain(kit: ProviderKit, settings: UploadSettings) -> None:
    handlers = {"upload": {**upload_handlers(settings), **apple_handlers(settings)}}
    while await run_due_jobs(kit, handlers):
        pass


@pytest.mark.parametrize("packaging", ["zip", "xml"])
async def test_an_export_becomes_workout_and_health_events(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    upload_settings: UploadSettings,
    engine: AsyncEngine,
    redis: Redis,
    packaging: str,
) -> None:
    xml = document(
        hr(WATCH, "2024-05-02 07:00:00 -0700", 120),
        hr(WATCH, "2024-05-02 07:10:00 -0700", 150),
        workout("Running", WATCH, "2024-05-02 07:00:00 -0700", "2024-05-02 07:30:00 -0700"),
        sleep(WATCH, "2024-05-01 23:00:00 -0700", "2024-05-02 06:00:00 -0700", "AsleepCore"),
    )
    body, name = (zipped(xml), "export.zip") if packaging == "zip" else (xml, "export.xml")
    response = await uploads_client.post(
        "/uploads?kind=apple_health",
        files={"file": (name, body, "application/octet-stream")},
        headers=alice,
    )
    assert response.status_code == 202, response.text
    upload = response.json()
    assert (upload["kind"], upload["status"]) == ("apple_health", "queued")

    await drain(kit, upload_settings)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "done", detail
    assert detail["bytes_done"] == detail["bytes_total"]
    assert stored_files(upload_settings) == []  # the body is gone once imported
    assert await OutboxRelay(engine, redis, SCHEMA, service="ingest").drain() >= 2
    types = sorted({e["type"] for e in await stream_events(redis)})
    assert types == ["health.ingested", "workout.ingested"]


async def test_something_else_is_refused_at_once(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await uploads_client.post(
        "/uploads?kind=apple_health",
        files={"file": ("export.xml", b"\x0e\x10FIT not xml", "application/octet-stream")},
        headers=alice,
    )
    assert response.status_code == 422
    assert "not an Apple Health export" in response.json()["detail"]
