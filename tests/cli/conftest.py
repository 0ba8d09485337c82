"""The CLI import commands' API: the ingest app in-process on the test PostgreSQL and Redis.

httpx's ASGI transport stands in for the gateway, and a background task drains
the job queue the way the ingest tasks process does (FIT and Apple Health upload
jobs), so a command's polling sees real progress.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from aurora_cli import importer
from aurora_ingest.app import create_app
from aurora_ingest.apple.jobs import handlers as apple_handlers
from aurora_ingest.config import IngestSettings
from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.main import SPEC as INGEST
from aurora_ingest.uploads.endpoints import router as uploads_router
from aurora_ingest.uploads.jobs import handlers
from aurora_ingest.uploads.settings import UploadSettings
from aurora_shared.config import asyncpg_url
from aurora_shared.testing.service import truncate_schema
from aurora_shared.testing.tokens import TestIssuer

from ..suite import migrate


class Api:
    def __init__(self, transport: httpx.ASGITransport, token: str, database_url: str) -> None:
        self.transport = transport
        self.token = token
        self.database_url = database_url

    async def run(self, *paths: Path) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await importer.import_fit(
            list(paths),
            url="http://testserver",
            token=self.token,
            transport=self.transport,
            stdout=out,
            stderr=err,
        )
        return code, out.getvalue(), err.getvalue()

    async def count(self, sql: str) -> int:
        conn = await asyncpg.connect(asyncpg_url(self.database_url))
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()


@pytest.fixture
async def api(
    database_url: str, redis_url: str, redis: Redis, issuer: TestIssuer, tmp_path: Path
) -> AsyncIterator[Api]:
    from aurora_ingest.providers.kit import ProviderKit

    await migrate([INGEST], database_url)
    await truncate_schema(database_url, INGEST.schema)
    settings = IngestSettings(database_url=database_url, redis_url=redis_url)
    upload_settings = UploadSettings(upload_dir=tmp_path / "uploads")
    app = create_app(settings, issuer.key_source())
    if "/uploads" not in app.openapi().get("paths", {}):
        app.include_router(uploads_router)
    app.state.upload_settings = upload_settings
    upload_handlers = {"upload": {**handlers(upload_settings), **apple_handlers(upload_settings)}}
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        kit = ProviderKit.build(settings, runtime.sessionmaker, runtime.redis)

        async def tasks_process() -> None:
            while True:
                await run_due_jobs(kit, upload_handlers)
                await asyncio.sleep(0.05)

        worker = asyncio.create_task(tasks_process())
        try:
            token = issuer.headers(uuid.uuid4())["Authorization"].removeprefix("Bearer ")
            yield Api(httpx.ASGITransport(app=app), token, database_url)
        finally:
            worker.cancel()
            with suppress(asyncio.CancelledError):
                await worker
            await kit.aclose()


def load_test_module(path: Path, name: str) -> Any:
    """A test-data builder from a service's tests folder (those folders are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "POLL_INTERVAL_S", 0.05)
