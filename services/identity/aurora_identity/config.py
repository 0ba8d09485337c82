"""Settings of the identity service (env prefix AURORA_IDENTITY_)."""

from __future__ import annotations

from functools import lru_cache

from aurora_shared.config import ServiceSettings
from pydantic_settings import SettingsConfigDict


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AURORA_IDENTITY_", extra="ignore")

    service_name: str = "identity"


@lru_cache
def get_settings() -> IdentitySettings:
    return IdentitySettings()
