"""Helpers each service's conftest uses: migrate once, clean between tests, run the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI

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
