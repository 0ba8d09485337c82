"""Settings of the analytics service (env prefix AURORA_ANALYTICS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from aurora_shared.config import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AURORA_ANALYTICS_", extra="ignore")

    service_name: str = "analytics"


@lru_cache
def get_settings() -> AnalyticsSettings:
    return AnalyticsSettings()
