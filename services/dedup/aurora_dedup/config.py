"""Settings of the dedup service (env prefix AURORA_DEDUP_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aurora_shared.config import BusSettings, ServiceSettings


class DedupBusSettings(BusSettings):
    """Workout events are resolved a read batch at a time (timeline/batch.py): at 200 a
    batch held about one event per user and shared little; 1,000 took the service path
    from ~500-800 to ~1,300-1,650 records/s (bench/results/dedup.md). AURORA_BUS_* still
    overrides it."""

    consumer_batch_size: int = Field(1000, ge=1, le=10_000)


class DedupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AURORA_DEDUP_", extra="ignore")

    service_name: str = "dedup"
    bus: BusSettings = Field(default_factory=DedupBusSettings)


@lru_cache
def get_settings() -> DedupSettings:
    return DedupSettings()
