"""The provider kit: what a provider endpoint or job needs, built once per process.

Endpoints get it through `kit_of` (the app builds it at start-up); the tasks
process builds its own. Tests build one on the test database and Redis, and
respx intercepts its real HTTP clients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_ingest.config import IngestSettings
from aurora_ingest.providers.budget import RateBudget, strava_windows, whoop_windows
from aurora_ingest.providers.crypto import TokenCipher
from aurora_ingest.providers.http import ProviderHttp
from aurora_ingest.strava.client import retry_at as strava_retry_at
from aurora_ingest.whoop.client import retry_at as whoop_retry_at


def utc_now() -> datetime:
    return datetime.now(UTC)


def _hosts(*urls: str) -> frozenset[str]:
    return frozenset(urlsplit(url).hostname or "" for url in urls) - {""}


@dataclass
class ProviderKit:
    settings: IngestSettings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    cipher: TokenCipher
    http: Mapping[str, ProviderHttp]
    budgets: Mapping[str, RateBudget]
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def build(
        cls,
        settings: IngestSettings,
        sessions: async_sessionmaker[AsyncSession],
        redis: Redis,
        clock: Callable[[], datetime] = utc_now,
    ) -> ProviderKit:
        def client(retry_at: Callable[..., datetime], *urls: str) -> ProviderHttp:
            # Asks the kit each time, so a test that sets `kit.clock` moves 429 maths too.
            return ProviderHttp(
                allowed_hosts=_hosts(*urls),
                timeout_s=settings.provider_timeout_s,
                max_body_bytes=settings.provider_max_body_bytes,
                retry_at=retry_at,
                clock=lambda: kit.clock(),  # noqa: PLW0108 (late-bound on purpose)
            )

        kit = cls(
            settings=settings,
            sessions=sessions,
            redis=redis,
            cipher=TokenCipher(settings.fernet_keys),
            http={},
            budgets={
                "strava": RateBudget(
                    redis,
                    "strava",
                    strava_windows(settings.strava_budget_15min, settings.strava_budget_daily),
                ),
                "whoop": RateBudget(
                    redis,
                    "whoop",
                    whoop_windows(settings.whoop_budget_minute, settings.whoop_budget_daily),
                ),
            },
            clock=clock,
        )
        kit.http = {
            "strava": client(
                strava_retry_at,
                settings.strava_api_base,
                settings.strava_oauth_base,
            ),
            "whoop": client(
                whoop_retry_at,
                settings.whoop_api_base,
                settings.whoop_oauth_base,
            ),
        }
        return kit

    async def aclose(self) -> None:
        for http in self.http.values():
            await http.aclose()


def kit_of(request: Request) -> ProviderKit:
    kit: ProviderKit = request.app.state.provider_kit
    return kit
