"""Connection test helpers: provider token answers (shaped after the providers' docs) and rows.

Strava's token answers follow developers.strava.com/docs/authentication (exchange
embeds a SummaryAthlete, refresh may rotate the refresh token); Whoop's follow its
OAuth 2.0 docs (`expires_in`, `scope`, refresh needs `offline`). Values are made up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx

from aurora_ingest.connections.models import Connection
from aurora_ingest.providers.kit import ProviderKit
from aurora_shared.testing.tokens import TestIssuer

STRAVA_TOKEN = "https://www.strava.com/oauth/token"
STRAVA_DEAUTHORIZE = "https://www.strava.com/oauth/deauthorize"
WHOOP_TOKEN = "https://api.prod.whoop.com/oauth/oauth2/token"
WHOOP_PROFILE = "https://api.prod.whoop.com/developer/v2/user/profile/basic"
WHOOP_REVOKE = "https://api.prod.whoop.com/developer/v2/user/access"
STRAVA_ATHLETE = 134815
WHOOP_USER = 10129


def strava_exchange(
    *, access: str = "a4b945687g", refresh: str = "e5n567567", athlete: int = STRAVA_ATHLETE
) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(hours=6)
    return {
        "token_type": "Bearer",
        "expires_at": int(expires.timestamp()),
        "expires_in": 21600,
        "refresh_token": refresh,
        "access_token": access,
        "athlete": {
            "id": athlete,
            "resource_state": 2,
            "firstname": "John",
            "lastname": "Applestrava",
            "city": "San Francisco",
            "created_at": "2018-02-08T20:08:12Z",
        },
    }


def strava_refresh(*, access: str, refresh: str, now: datetime) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "access_token": access,
        "expires_at": int((now + timedelta(hours=6)).timestamp()),
        "expires_in": 21600,
        "refresh_token": refresh,
    }


def whoop_tokens(*, access: str = "w-access", refresh: str = "w-refresh") -> dict[str, Any]:
    return {
        "access_token": access,
        "expires_in": 3600,
        "refresh_token": refresh,
        "scope": "offline read:workout read:sleep read:recovery read:cycles read:profile",
        "token_type": "bearer",
    }


def whoop_profile(user_id: int = WHOOP_USER) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "email": "jsmith123@whoop.com",
        "first_name": "John",
        "last_name": "Smith",
    }


MakeConnection = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_real_network(respx_mock: respx.MockRouter) -> respx.MockRouter:
    """Every outbound call in these tests must hit a mocked route (unmatched ones fail)."""
    return respx_mock


@pytest.fixture
def make_connection(kit: ProviderKit) -> MakeConnection:
    """Store a connection as a successful connect would have (tokens encrypted)."""

    async def make(
        *,
        user_id: uuid.UUID | None = None,
        provider: str = "strava",
        provider_user_id: str = str(STRAVA_ATHLETE),
        access: str | None = "old-access",
        refresh: str | None = "old-refresh",
        expires_at: datetime | None = None,
        status: str = "active",
    ) -> Connection:
        now = kit.clock()
        connection = Connection(
            id=uuid.uuid4(),
            user_id=user_id or uuid.uuid4(),
            provider=provider,
            provider_user_id=provider_user_id,
            scopes="read activity:read_all",
            access_token_enc=kit.cipher.encrypt(access) if access is not None else None,
            refresh_token_enc=kit.cipher.encrypt(refresh) if refresh is not None else None,
            expires_at=expires_at if expires_at is not None else now + timedelta(hours=6),
            status=status,
            connected_at=now,
            created_at=now,
            updated_at=now,
        )
        async with kit.sessions() as session, session.begin():
            session.add(connection)
        return connection

    return make


@pytest.fixture
def user(issuer: TestIssuer) -> tuple[uuid.UUID, dict[str, str]]:
    user_id = uuid.uuid4()
    return user_id, issuer.headers(user_id)


Load = Callable[[uuid.UUID], Any]


@pytest.fixture
def load(kit: ProviderKit) -> Load:
    """The connection row as committed now."""

    async def read(connection_id: uuid.UUID) -> Connection:
        async with kit.sessions() as session:
            connection = await session.get(Connection, connection_id)
            assert connection is not None
            return connection

    return read


class Fakes:
    """What the mocked providers answer (a fixture: test modules cannot import conftest)."""

    strava_token = STRAVA_TOKEN
    strava_deauthorize = STRAVA_DEAUTHORIZE
    whoop_token = WHOOP_TOKEN
    whoop_profile_url = WHOOP_PROFILE
    whoop_revoke = WHOOP_REVOKE
    strava_athlete = STRAVA_ATHLETE
    whoop_user = WHOOP_USER
    strava_exchange = staticmethod(strava_exchange)
    strava_refresh = staticmethod(strava_refresh)
    whoop_tokens = staticmethod(whoop_tokens)
    whoop_profile = staticmethod(whoop_profile)


@pytest.fixture
def fakes() -> type[Fakes]:
    return Fakes
