"""Settings of the ingest service (env prefix AURORA_INGEST_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from aurora_shared.config import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AURORA_INGEST_", extra="ignore")

    service_name: str = "ingest"


@lru_cache
def get_settings() -> IngestSettings:
    return IngestSettings()
