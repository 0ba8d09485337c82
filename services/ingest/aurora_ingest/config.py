"""Settings of the ingest service (env prefix AURORA_INGEST_).

Provider credentials default to empty: a deployment without them still serves
manual records and uploads, and the provider routes answer 503 "not configured"
instead of failing at start-up.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from aurora_shared.config import ServiceSettings


class IngestSettings(ServiceSettings):
    # Empty variables count as unset, so compose can pass optional secrets through.
    model_config = SettingsConfigDict(
        env_prefix="AURORA_INGEST_", extra="ignore", env_ignore_empty=True
    )

    service_name: str = "ingest"

    # Fernet keys for provider tokens at rest, comma-separated, the current one first;
    # older keys stay listed until `reencrypt-tokens` has run (MultiFernet rotation).
    token_keys: SecretStr = SecretStr("")
    # Signs the OAuth `state` parameter (CSRF protection of the connect flow).
    state_secret: SecretStr = SecretStr("")
    oauth_state_ttl_s: int = Field(600, ge=60, le=3600)
    # Where browsers reach the gateway; OAuth redirect URIs are built from it.
    public_base_url: str = "http://localhost:8080"

    strava_client_id: str = ""
    strava_client_secret: SecretStr = SecretStr("")
    strava_verify_token: SecretStr = SecretStr("")
    strava_subscription_id: int | None = None
    strava_api_base: str = "https://www.strava.com/api/v3"
    strava_oauth_base: str = "https://www.strava.com"
    # Strava's default application limits ("non-upload" read budget, checklist 16).
    strava_budget_15min: int = Field(100, ge=1)
    strava_budget_daily: int = Field(1000, ge=1)

    whoop_client_id: str = ""
    whoop_client_secret: SecretStr = SecretStr("")
    whoop_api_base: str = "https://api.prod.whoop.com/developer"
    whoop_oauth_base: str = "https://api.prod.whoop.com/oauth/oauth2"
    whoop_budget_minute: int = Field(100, ge=1)
    whoop_budget_daily: int = Field(10_000, ge=1)
    # Whoop states no replay window; five minutes either way is ours (checklist 17).
    whoop_webhook_tolerance_s: int = Field(300, ge=1, le=3600)

    # Outbound calls to providers (checklist 45): bounded in time and size.
    provider_timeout_s: float = Field(10.0, gt=0, le=120)
    provider_max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # Safety limit of any paginated sync: a provider that never stops paging stops here.
    sync_max_pages: int = Field(200, ge=1, le=10_000)
    # How many provider jobs one drain of the tasks process claims at a time.
    jobs_batch_size: int = Field(20, ge=1, le=1000)
    jobs_max_attempts: int = Field(8, ge=1, le=100)
    # A job claimed longer ago than this is assumed to belong to a dead worker; an
    # Apple Health import is one job of up to several minutes per GB.
    jobs_lease_s: int = Field(3600, ge=10)

    @property
    def fernet_keys(self) -> list[str]:
        return [k.strip() for k in self.token_keys.get_secret_value().split(",") if k.strip()]


@lru_cache
def get_settings() -> IngestSettings:
    return IngestSettings()
