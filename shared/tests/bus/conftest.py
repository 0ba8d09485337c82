"""A throwaway schema with the bus tables and an `effects` table the test handlers write.

`effects` has no unique constraint on purpose: exactly-once is proven by counting
rows per event, not enforced by the table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_shared.bus.envelope import Envelope
from aurora_shared.bus.tables import BusTables, bus_tables, notify_trigger_ddl
from aurora_shared.config import BusSettings
from aurora_shared.db import make_engine, make_sessionmaker, schema_metadata

SCHEMA = "bustest"
STREAM = "bustest.events"
GROUP = "testgroup"


@dataclass
class BusEnv:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tables: BusTables
    effects: Table
    metadata: MetaData


def effects_table(metadata: MetaData) -> Table:
    return Table(
        "effects",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("note", Text, nullable=True),
    )


@pytest.fixture(scope="session")
def bus_metadata() -> MetaData:
    md = schema_metadata(SCHEMA)
    bus_tables(md)
    effects_table(md)
    return md


@pytest.fixture
async def bus_env(database_url: str, bus_metadata: MetaData) -> AsyncIterator[BusEnv]:
    engine = make_engine(database_url, pool_size=5)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.run_sync(bus_metadata.create_all)
        for ddl in notify_trigger_ddl(SCHEMA):
            await conn.execute(text(ddl))
    tables = bus_tables(schema_metadata(SCHEMA))
    try:
        yield BusEnv(
            engine,
            make_sessionmaker(engine),
            tables,
            bus_metadata.tables[f"{SCHEMA}.effects"],
            bus_metadata,
        )
    finally:
        await engine.dispose()


@pytest.fixture
def fast_bus() -> Iterator[BusSettings]:
    yield BusSettings(
        consumer_block_ms=50,
        claim_min_idle_ms=200,
        claim_interval_s=0.1,
        max_deliveries=3,
        relay_poll_interval_s=0.2,
    )


async def record_effect(session: AsyncSession, event: Envelope) -> None:
    await session.execute(
        text(f"INSERT INTO {SCHEMA}.effects (event_id, note) VALUES (:e, :n)"),
        {"e": event.id, "n": str(event.payload.get("note", ""))},
    )
