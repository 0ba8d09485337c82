"""ASGI factory of the identity service."""

from __future__ import annotations

from fastapi import FastAPI

from aurora_identity.admin.endpoints import router as admin_router
from aurora_identity.audit.endpoints import router as audit_router
from aurora_identity.auth.endpoints import router as auth_router
from aurora_identity.auth.keys import KeyRing
from aurora_identity.auth.passwords import Passwords
from aurora_identity.auth.service import AuthContext
from aurora_identity.config import IdentitySettings, get_settings
from aurora_identity.gdpr.endpoints import router as gdpr_router
from aurora_identity.grants.endpoints import router as grants_router
from aurora_identity.sessions.endpoints import router as sessions_router
from aurora_identity.sessions.revocation import reseed_at_startup
from aurora_identity.users.endpoints import router as users_router
from aurora_shared.auth import KeySource
from aurora_shared.service import Runtime, build_app


def create_app(
    settings: IdentitySettings | None = None, key_source: KeySource | None = None
) -> FastAPI:
    """Identity verifies its own tokens from its key table unless a key source is given."""
    settings = settings or get_settings()
    keys = KeyRing(token_ttl_s=settings.access_token_ttl_s)

    async def start_keys(runtime: Runtime) -> None:
        keys.bind(runtime.sessionmaker)
        await keys.ensure_active_key()

    app = build_app(
        settings,
        title="Aurora identity",
        description="The identity service of Aurora.",
        routers=[
            auth_router,
            sessions_router,
            users_router,
            gdpr_router,
            admin_router,
            grants_router,
            audit_router,
        ],
        key_source=key_source or keys,
        on_startup=[start_keys, reseed_at_startup],
    )
    app.state.auth = AuthContext(
        settings=settings,
        passwords=Passwords(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        ),
        keys=keys,
    )
    return app
