"""ASGI factory of the identity service."""

from __future__ import annotations

from aurora_shared.auth import KeySource
from aurora_shared.service import build_app
from fastapi import FastAPI

from aurora_identity.config import IdentitySettings, get_settings


def create_app(
    settings: IdentitySettings | None = None, key_source: KeySource | None = None
) -> FastAPI:
    return build_app(
        settings or get_settings(),
        title="Aurora identity",
        description="The identity service of Aurora.",
        routers=[],
        key_source=key_source,
    )
