"""ASGI factory of the ingest service."""

from __future__ import annotations

from fastapi import FastAPI

from aurora_ingest.accounts.endpoints import router as accounts_router
from aurora_ingest.config import IngestSettings, get_settings
from aurora_ingest.connections.endpoints import router as connections_router
from aurora_ingest.manual.endpoints import router as manual_router
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.records.endpoints import router as records_router
from aurora_ingest.strava.webhooks import router as strava_webhooks_router
from aurora_ingest.uploads.endpoints import router as uploads_router
from aurora_ingest.whoop.webhooks import router as whoop_webhooks_router
from aurora_shared.auth import KeySource
from aurora_shared.service import Runtime, build_app


def create_app(
    settings: IngestSettings | None = None, key_source: KeySource | None = None
) -> FastAPI:
    settings = settings or get_settings()

    async def open_kit(runtime: Runtime) -> None:
        app.state.provider_kit = ProviderKit.build(settings, runtime.sessionmaker, runtime.redis)

    async def close_kit() -> None:
        kit: ProviderKit | None = getattr(app.state, "provider_kit", None)
        if kit is not None:
            await kit.aclose()

    app = build_app(
        settings,
        title="Aurora ingest",
        description="The ingest service of Aurora.",
        routers=[
            accounts_router,
            manual_router,
            records_router,
            connections_router,
            strava_webhooks_router,
            whoop_webhooks_router,
            uploads_router,
        ],
        key_source=key_source,
        on_startup=[open_kit],
        on_shutdown=[close_kit],
    )
    return app
