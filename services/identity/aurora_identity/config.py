"""Settings of the identity service (env prefix AURORA_IDENTITY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aurora_shared.config import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AURORA_IDENTITY_", extra="ignore")

    service_name: str = "identity"
    # Argon2id; the lower bounds are OWASP's minimum (m=19 MiB, t=2, p=1), so a
    # misconfigured deployment cannot weaken password storage below it.
    argon2_memory_kib: int = Field(19_456, ge=19_456, le=1_048_576)
    argon2_time_cost: int = Field(2, ge=2, le=20)
    argon2_parallelism: int = Field(1, ge=1, le=16)
    access_token_ttl_s: int = Field(900, ge=60, le=3600)
    # Short, so that a newly published key reaches HTTP caches quickly.
    jwks_max_age_s: int = Field(300, ge=0, le=3600)


@lru_cache
def get_settings() -> IdentitySettings:
    return IdentitySettings()
