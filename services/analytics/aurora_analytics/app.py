"""ASGI factory of the analytics service."""

from __future__ import annotations

from fastapi import FastAPI

from aurora_analytics.accounts.endpoints import router as accounts_router
from aurora_analytics.config import AnalyticsSettings, get_settings
from aurora_analytics.workouts.endpoints import router as workouts_router
from aurora_shared.auth import KeySource
from aurora_shared.service import build_app


def create_app(
    settings: AnalyticsSettings | None = None, key_source: KeySource | None = None
) -> FastAPI:
    return build_app(
        settings or get_settings(),
        title="Aurora analytics",
        description="The analytics service of Aurora.",
        routers=[accounts_router, workouts_router],
        key_source=key_source,
    )
