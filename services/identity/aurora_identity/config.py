"""Settings of the identity service (env prefix AURORA_IDENTITY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from aurora_shared.config import ServiceSettings

# A configured HMAC key shorter than this is a password, not a key.
MIN_SECRET_LENGTH = 32


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
    # Refresh tokens rotate on every use; each new one lives this long (a sliding session).
    refresh_token_ttl_s: int = Field(30 * 86_400, ge=300, le=365 * 86_400)
    # A used refresh token presented again within this many seconds of its use is a
    # parallel refresh that lost the race (401, the family lives); later it is a replay
    # (401, the whole family is revoked). See sessions/rules.py.
    refresh_race_grace_s: float = Field(2.0, ge=0, le=60)
    # How often identity's relay rewrites every unexpired revocation into Redis (seeding it
    # after a Redis restart): the longest a cache entry lost in a race can stay lost.
    revocation_sync_interval_s: float = Field(5.0, gt=0, le=300)
    # Login throttling per account (checklist 27): after `login_max_failures` failures
    # within the window, sign-in is refused for a back-off that doubles up to the cap.
    login_max_failures: int = Field(10, ge=1, le=1000)
    login_window_s: int = Field(900, ge=1, le=86_400)
    login_backoff_base_s: int = Field(60, ge=1, le=86_400)
    login_backoff_max_s: int = Field(900, ge=1, le=86_400)
    # HMAC key of the throttle's account keys (so its table cannot be reversed with a
    # list of addresses). Unset, identity creates a random one in its own database.
    login_throttle_secret: SecretStr = SecretStr("")
    # GDPR: how long a soft-deleted account waits before the purge job erases it.
    erasure_grace_days: int = Field(30, ge=0, le=365)
    purge_batch_size: int = Field(200, ge=1, le=10_000)
    # Where `GET /users/me/export` collects the other services' parts of the archive.
    export_interval_s: int = Field(86_400, ge=0)
    export_sources: dict[str, str] = Field(
        default_factory=lambda: {
            "ingest": "http://127.0.0.1:8102/records/me/export",
            "dedup": "http://127.0.0.1:8103/timeline/me/export",
            "analytics": "http://127.0.0.1:8104/analytics/me/export",
        }
    )
    export_timeout_s: float = Field(20.0, gt=0, le=300)
    export_max_bytes: int = Field(50 * 1024 * 1024, ge=1024)

    @field_validator("login_throttle_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if 0 < len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be empty or at least {MIN_SECRET_LENGTH} characters")
        return value


@lru_cache
def get_settings() -> IdentitySettings:
    return IdentitySettings()
