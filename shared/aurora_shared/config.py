"""Settings every service shares.

Each service subclasses `ServiceSettings` with its own env prefix (AURORA_INGEST_ ...),
but the connection URLs fall back to the plain DATABASE_URL / REDIS_URL so that one
environment can start the whole suite while a single service can still be pointed
elsewhere.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy needs the asyncpg dialect spelled out; operators write plain postgres URLs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"unsupported database url scheme: {url.split(':', 1)[0]!r}")


def asyncpg_url(url: str) -> str:
    """asyncpg itself only understands the plain scheme."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


class BusSettings(BaseSettings):
    """Knobs of the reliable event path, shared by relays and consumers."""

    model_config = SettingsConfigDict(env_prefix="AURORA_BUS_", extra="ignore")

    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(1.0, gt=0)
    # Wait this long after a NOTIFY before reading the outbox (see OutboxRelay.run).
    relay_linger_ms: int = Field(10, ge=0, le=1000)
    consumer_batch_size: int = Field(200, ge=1, le=10_000)
    consumer_block_ms: int = Field(1000, ge=1)
    claim_min_idle_ms: int = Field(30_000, ge=10)
    claim_interval_s: float = Field(5.0, gt=0)
    max_deliveries: int = Field(5, ge=1)
    stream_retention_s: int = Field(7 * 24 * 3600, ge=60)
    trim_interval_s: float = Field(60.0, gt=0)
    reconcile_interval_s: float = Field(10.0, gt=0)


class ServiceSettings(BaseSettings):
    """Base for every service; subclasses set `model_config` with their own env_prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "aurora"
    database_url: str = ""
    redis_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    docs_enabled: bool = True
    # Workers and relays have no HTTP app; set ports to expose their metrics.
    worker_metrics_port: int | None = None
    relay_metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    db_pool_size: int = 10
    jwks_url: str = "http://127.0.0.1:8101/.well-known/jwks.json"
    jwt_issuer: str = "aurora-identity"
    jwt_audience: str = "aurora"
    # How long verified services trust their copy of identity's JWKS before fetching
    # it again (a key removed at identity stops verifying within this), and how long
    # a stale copy keeps serving while identity cannot be reached.
    jwks_max_age_s: float = Field(300.0, gt=0, le=86_400)
    jwks_stale_if_error_s: float = Field(300.0, ge=0, le=86_400)
    bus: BusSettings = Field(default_factory=BusSettings)

    @model_validator(mode="before")
    @classmethod
    def _fallback_urls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, env in (
                ("database_url", "DATABASE_URL"),
                ("redis_url", "REDIS_URL"),
                ("jwks_url", "AURORA_JWKS_URL"),
            ):
                if not data.get(field) and os.environ.get(env):
                    data[field] = os.environ[env]
        return data

    @model_validator(mode="after")
    def _require_urls(self) -> ServiceSettings:
        missing = [n for n in ("database_url", "redis_url") if not getattr(self, n)]
        if missing:
            names = ", ".join(m.upper() for m in missing)
            raise ValueError(f"{names} must be set (`aurora run` starts embedded servers)")
        return self
