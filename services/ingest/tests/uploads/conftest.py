"""Fixtures of the upload tests: the ingest app with the uploads router, a private
upload directory, the job drain, and FIT/zip builders."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from aurora_ingest.app import create_app
from aurora_ingest.config import IngestSettings
from aurora_ingest.db import SCHEMA
from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.jobs import handlers
from aurora_ingest.uploads.settings import UploadSettings
from aurora_shared.testing.service import running_app, truncate_schema
from aurora_shared.testing.tokens import TestIssuer

RunJobs = Callable[[ProviderKit], Awaitable[int]]


def with_uploads(app: FastAPI, settings: UploadSettings) -> FastAPI:
    """The app with the test's upload limits and a throwaway upload directory."""
    app.state.upload_settings = settings
    return app


@pytest.fixture
def upload_settings(tmp_path: Path) -> UploadSettings:
    return UploadSettings(
        upload_dir=tmp_path / "uploads",
        upload_max_bytes=4 * 1024 * 1024,
        upload_sync_max_bytes=1024 * 1024,
        upload_zip_max_entry_bytes=1024 * 1024,
        upload_zip_max_total_bytes=3 * 1024 * 1024,
        upload_zip_max_entries=50,
    )


@pytest.fixture
async def uploads_client(
    settings: IngestSettings,
    issuer: TestIssuer,
    redis: Redis,
    upload_settings: UploadSettings,
) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_schema(settings.database_url, SCHEMA)
    app = with_uploads(create_app(settings, issuer.key_source()), upload_settings)
    async with running_app(app) as http:
        yield http


@pytest.fixture
def run_jobs(upload_settings: UploadSettings) -> RunJobs:
    """Drains the queue as the tasks process does, with the test's upload settings."""
    upload_handlers = {"upload": handlers(upload_settings)}

    async def run(kit: ProviderKit) -> int:
        total = 0
        while ran := await run_due_jobs(kit, upload_handlers):
            total += ran
        return total

    return run


def zip_of(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def multipart(
    data: bytes, *, filename: str = "ride.fit", boundary: str = "aurora-test-boundary"
) -> tuple[bytes, dict[str, str]]:
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


async def post_file(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, filename: str = "ride.fit"
) -> httpx.Response:
    return await client.post(
        "/uploads", files={"file": (filename, data, "application/octet-stream")}, headers=headers
    )


def stored_files(settings: UploadSettings, user: uuid.UUID | None = None) -> list[Path]:
    root = settings.upload_dir if user is None else settings.upload_dir / str(user)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
