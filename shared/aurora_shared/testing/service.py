"""Helpers each service's conftest uses: migrate once, clean between tests, run the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from aurora_shared.config import asyncpg_url


async def truncate_schema(database_url: str, schema: str) -> None:
    """Empty every table of the schema except alembic's version table."""
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        names = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> $2",
            schema,
            "alembic_version",
        )
        if names:
            tables = ", ".join(f'{schema}."{r["tablename"]}"' for r in names)
            if await conn.fetchval("SELECT current_setting('is_superuser') = 'on'"):
                # Append-only tables (identity's audit_log) refuse TRUNCATE with a trigger;
                # the replica role skips ordinary triggers for this test-only connection.
                await conn.execute("SET session_replication_role = replica")
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, behind an in-process HTTP client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def schema_drift(engine: AsyncEngine, metadata: MetaData, schema: str) -> list[Any]:
    """Differences between the migrated schema and the ORM models (empty when in sync)."""

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, _: type_ != "schema" or name == schema,
                # alembic's own bookkeeping table is not described by the models.
                "include_object": lambda obj, name, type_, *_: (
                    not (type_ == "table" and name == "alembic_version")
                ),
            },
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(diff)
