"""Settings of the dedup service (env prefix AURORA_DEDUP_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from aurora_shared.config import ServiceSettings


class DedupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AURORA_DEDUP_", extra="ignore")

    service_name: str = "dedup"


@lru_cache
def get_settings() -> DedupSettings:
    return DedupSettings()
