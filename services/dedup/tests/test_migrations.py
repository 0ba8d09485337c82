"""The hand-written revisions build exactly the tables the ORM models describe."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

import aurora_dedup.models  # noqa: F401  (every table on the metadata)
from aurora_dedup.db import SCHEMA, Base
from aurora_shared.testing.service import schema_drift


async def test_schema_matches_models(migrated: str, engine: AsyncEngine) -> None:
    assert await schema_drift(engine, Base.metadata, SCHEMA) == []
