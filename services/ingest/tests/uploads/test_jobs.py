"""The upload job: cancellation, resumption, failures, erasure and export."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import aurora_ingest.models  # noqa: F401  (every table on the metadata)
from aurora_ingest.db import SCHEMA, Base
from aurora_ingest.jobs.service import Job
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads import fitimport, jobs, service
from aurora_ingest.uploads import models as upload_models
from aurora_ingest.uploads.settings import UploadSettings
from aurora_shared.testing.service import schema_drift

from ..fit.encoder import activity_file
from .conftest import RunJobs, post_file, stored_files, zip_of


async def test_migration_matches_the_upload_models(migrated: str, engine: AsyncEngine) -> None:
    """Only the upload tables: other workstreams' tables are checked by test_migrations."""
    assert upload_models.Upload.metadata is Base.metadata
    drift = await schema_drift(engine, Base.metadata, SCHEMA)
    assert [d for d in drift if _table_of(d) in {"uploads", "upload_files"}] == []


def _table_of(diff: Any) -> str | None:
    """The table an alembic diff entry is about (an op tuple, or a list of modify ops)."""
    if isinstance(diff, list):
        diff = diff[0]
    for part in diff[1:]:
        if isinstance(part, str) and part != SCHEMA:
            return part
        table = getattr(part, "table", part)
        if hasattr(table, "name") and hasattr(table, "columns"):
            return str(table.name)
    return None


async def test_cancelling_a_queued_upload_drops_its_job_and_file(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    upload = (await post_file(uploads_client, alice, activity_file())).json()
    response = await uploads_client.post(f"/uploads/{upload['id']}/cancel", headers=alice)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert stored_files(upload_settings) == []
    assert await db.fetchval("SELECT status FROM ingest.provider_jobs") == "cancelled"
    assert await run_jobs(kit) == 0
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 0
    again = await uploads_client.post(f"/uploads/{upload['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert again.json()["detail"] == "the upload is already cancelled"


async def test_a_cancel_during_the_import_stops_between_files(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {f"{i}.fit": activity_file(serial=100 + i) for i in range(4)}
    upload = (await post_file(uploads_client, alice, zip_of(files), "export.zip")).json()
    original_record = jobs._record
    recorded = 0

    async def record_then_cancel(*args: object, **kwargs: object) -> None:
        """The user cancels through the API right after the first file is stored."""
        nonlocal recorded
        await original_record(*args, **kwargs)  # type: ignore[arg-type]
        recorded += 1
        if recorded == 1:
            answer = await uploads_client.post(f"/uploads/{upload['id']}/cancel", headers=alice)
            assert answer.status_code == 200

    monkeypatch.setattr(jobs, "_record", record_then_cancel)
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "cancelled"
    assert detail["files_done"] == 1
    assert [f["result"] for f in detail["files"]] == ["imported"]
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1
    assert stored_files(upload_settings) == []


async def test_a_long_import_continues_where_its_time_slice_ended(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_job_slice_s = 1e-9  # every run imports one file, then re-queues
    files = {f"{i}.fit": activity_file(serial=200 + i) for i in range(3)}
    upload = (await post_file(uploads_client, alice, zip_of(files), "export.zip")).json()
    assert await run_jobs(kit) == 3  # one file per run, each run re-queued after it
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "done"
    assert [f["result"] for f in detail["files"]] == ["imported"] * 3
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 3
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 3


async def test_a_large_single_file_is_judged_by_the_job(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_sync_max_bytes = 0
    broken = bytearray(activity_file())
    broken[-2] ^= 0x0F
    response = await post_file(uploads_client, alice, bytes(broken))
    assert response.status_code == 202
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{response.json()['id']}", headers=alice)).json()
    assert detail["status"] == "failed"
    assert detail["error"].startswith("not a valid FIT file: ")
    assert [f["result"] for f in detail["files"]] == ["rejected"]
    assert stored_files(upload_settings) == []


async def test_a_decoder_bug_costs_one_file_not_the_export(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad, good = activity_file(serial=1), activity_file(serial=2)
    bad_sha = fitimport.sha256_of(bad)
    real = fitimport.workouts_in

    def flaky(data: bytes, sha256: str) -> list[object]:
        if sha256 == bad_sha:
            raise RuntimeError("decoder bug")
        return real(data, sha256)  # type: ignore[return-value]

    monkeypatch.setattr(jobs, "workouts_in", flaky)
    archive = zip_of({"bad.fit": bad, "good.fit": good})
    upload = (await post_file(uploads_client, alice, archive, "export.zip")).json()
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "done"
    assert [(f["result"], f["reason"]) for f in detail["files"]] == [
        ("rejected", jobs.INTERNAL_REJECTION),
        ("imported", None),
    ]


async def test_a_failing_database_step_retries_then_fails_the_upload(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    upload_settings: UploadSettings,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = (await post_file(uploads_client, alice, activity_file())).json()

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(jobs, "_record", broken)
    job = Job(
        id=uuid.uuid4(),
        provider="upload",
        kind="fit",
        key=upload["id"],
        user_id=uuid.UUID(str(await db.fetchval("SELECT user_id FROM ingest.uploads"))),
        connection_id=None,
    )
    with pytest.raises(ConnectionError):
        await jobs.process_upload(kit, job, upload_settings)
    mid = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert mid["status"] == "processing"  # retried later, resumes where it stopped
    last = Job(**{**job.__dict__, "attempts": kit.settings.jobs_max_attempts - 1})
    with pytest.raises(ConnectionError):
        await jobs.process_upload(kit, last, upload_settings)
    final = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert (final["status"], final["error"]) == ("failed", "import failed: ConnectionError")
    assert stored_files(upload_settings) == []


async def test_purge_erases_rows_and_stored_files(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    bob: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    await post_file(uploads_client, alice, zip_of({"a.fit": activity_file()}), "a.zip")
    await run_jobs(kit)
    queued = (await post_file(uploads_client, alice, activity_file(serial=9))).json()
    await post_file(uploads_client, bob, activity_file(serial=10))
    alice_id = uuid.UUID(
        str(
            await db.fetchval(
                "SELECT user_id FROM ingest.uploads WHERE id = $1", uuid.UUID(queued["id"])
            )
        )
    )
    assert len(stored_files(upload_settings, alice_id)) == 1
    async with kit.sessions() as session, session.begin():
        erased = await service.purge_user_uploads(session, alice_id, upload_settings)
    assert erased == {"upload_files": 1, "uploads": 2}
    assert stored_files(upload_settings, alice_id) == []
    assert len(stored_files(upload_settings)) == 1  # bob's
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 1


async def test_export_lists_uploads_with_their_results(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    archive = zip_of({"a.fit": activity_file(), "b.txt": b"x"})
    upload = (await post_file(uploads_client, alice, archive, "a.zip")).json()
    await run_jobs(kit)
    alice_id = uuid.UUID(str(await db.fetchval("SELECT user_id FROM ingest.uploads")))
    async with kit.sessions() as session:
        exported = [u async for u in service.exported_uploads(session, alice_id)]
    [only] = exported
    assert str(only.id) == upload["id"]
    assert [(f.name, f.result) for f in only.files] == [("a.fit", "imported"), ("b.txt", "skipped")]
    assert "stored_as" not in only.model_dump()
