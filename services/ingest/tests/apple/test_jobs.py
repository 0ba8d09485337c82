"""The upload job of kind "apple_health": status, progress and the outcome on the upload row."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from types import ModuleType

import asyncpg

from aurora_ingest.apple.jobs import handlers
from aurora_ingest.jobs.service import Job
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.models import Upload
from aurora_ingest.uploads.settings import UploadSettings

W = "Jane\u2019s Apple\u00a0Watch"


async def queue_upload(kit: ProviderKit, tmp_path: Path, user: uuid.UUID, body: bytes) -> Job:
    stored = f"{user}/export.zip"
    (tmp_path / str(user)).mkdir(parents=True)
    (tmp_path / stored).write_bytes(body)
    upload_id = uuid.uuid4()
    async with kit.sessions() as session, session.begin():
        session.add(
            Upload(
                id=upload_id,
                user_id=user,
                kind="apple_health",
                container="zip",
                filename="export.zip",
                stored_as=stored,
                sha256=hashlib.sha256(body).hexdigest(),
                status="queued",
                bytes_total=len(body),
            )
        )
    return Job(uuid.uuid4(), "upload", "apple_health", str(upload_id), user, None, {})


async def test_an_upload_job_imports_and_finishes_the_upload(
    kit: ProviderKit, db: asyncpg.Connection, ax: ModuleType, tmp_path: Path
) -> None:
    user = uuid.uuid4()
    xml = ax.document(
        ax.hr(W, "2024-05-02 07:00:00 -0700", 120),
        ax.workout("Running", W, "2024-05-02 07:00:00 -0700", "2024-05-02 07:30:00 -0700"),
    )
    job = await queue_upload(kit, tmp_path, user, ax.zipped(xml))
    await handlers(UploadSettings(upload_dir=tmp_path))["apple_health"](kit, job)
    row = await db.fetchrow(
        "SELECT status, error, bytes_done, stored_as, records::text, workouts FROM ingest.uploads"
    )
    assert (row["status"], row["error"], row["stored_as"]) == ("done", None, None)
    assert row["bytes_done"] > 0 and not (tmp_path / f"{user}/export.zip").exists()
    # Progress and totals by type, for the status endpoint and the CLI's summary.
    records = json.loads(row["records"])
    assert records["HKQuantityTypeIdentifierHeartRate"] == 1 and records["Workout"] == 1
    assert row["workouts"] == 1
    kinds = [r["event_type"] for r in await db.fetch("SELECT event_type FROM ingest.outbox")]
    assert kinds == ["workout.ingested"]


async def test_a_rejected_export_fails_the_upload_with_its_reason(
    kit: ProviderKit, db: asyncpg.Connection, ax: ModuleType, tmp_path: Path
) -> None:
    user = uuid.uuid4()
    bomb = b'<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY a "aa">]><HealthData/>'
    job = await queue_upload(kit, tmp_path, user, ax.zipped(bomb))
    await handlers(UploadSettings(upload_dir=tmp_path))["apple_health"](kit, job)
    row = await db.fetchrow("SELECT status, error FROM ingest.uploads")
    assert row["status"] == "failed" and "declares an entity" in row["error"]
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 0
