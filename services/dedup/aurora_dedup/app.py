"""ASGI factory of the dedup service."""

from __future__ import annotations

from fastapi import FastAPI

from aurora_dedup.accounts.endpoints import router as accounts_router
from aurora_dedup.config import DedupSettings, get_settings
from aurora_dedup.controls.endpoints import links_router, priorities_router
from aurora_dedup.timeline.endpoints import router as timeline_router
from aurora_shared.auth import KeySource
from aurora_shared.service import build_app


def create_app(
    settings: DedupSettings | None = None, key_source: KeySource | None = None
) -> FastAPI:
    return build_app(
        settings or get_settings(),
        title="Aurora dedup",
        description="The dedup service of Aurora.",
        # The controls' /timeline/links and /timeline/records routes come before
        # /timeline/{id}, which would otherwise claim their first path segment.
        routers=[accounts_router, priorities_router, links_router, timeline_router],
        key_source=key_source,
    )
