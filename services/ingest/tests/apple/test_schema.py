"""Migration 0007 builds exactly the tables apple/models.py describes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

import aurora_ingest.apple.models
import aurora_ingest.models
from aurora_ingest.db import SCHEMA, Base
from aurora_shared.testing.service import schema_drift


async def test_apple_tables_match_the_migration(migrated: str, engine: AsyncEngine) -> None:
    assert aurora_ingest.apple.models.APPLE_SAMPLES.name == "apple_samples"
    drift = await schema_drift(engine, Base.metadata, SCHEMA)
    apple = [d for d in drift if "apple" in repr(d)]
    assert apple == []
