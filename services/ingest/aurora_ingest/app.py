"""ASGI factory of the ingest service."""

from __future__ import annotations

from fastapi import FastAPI

from aurora_ingest.accounts.endpoints import router as accounts_router
from aurora_ingest.config import IngestSettings, get_settings
from aurora_ingest.manual.endpoints import router as manual_router
from aurora_ingest.records.endpoints import router as records_router
from aurora_shared.auth import KeySource
from aurora_shared.service import build_app


def create_app(
    settings: IngestSettings | None = None, key_source: KeySource | None = None
) -> FastAPI:
    return build_app(
        settings or get_settings(),
        title="Aurora ingest",
        description="The ingest service of Aurora.",
        routers=[accounts_router, manual_router, records_router],
        key_source=key_source,
    )
