"""One alembic history per service, its version table inside the service's schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from aurora_shared.bus.tables import checked_schema
from aurora_shared.config import sqlalchemy_url


def alembic_config(script_location: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(script_location: Path, database_url: str, revision: str = "heads") -> None:
    """Blocking; call from a thread when an event loop is already running."""
    command.upgrade(alembic_config(script_location, database_url), revision)


def downgrade(script_location: Path, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(script_location, database_url), revision)


def run_env(target_metadata: MetaData, schema: str) -> None:
    """Body of every service's migrations/env.py (online mode only)."""
    checked_schema(schema)
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not configured"

    def do_run(connection: Connection) -> None:
        # Serialise concurrent `migrate` runs of the same service (several replicas).
        lock = {"k": f"migrate:{schema}"}
        connection.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), lock)
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=False,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), lock)
        connection.commit()

    async def main() -> None:
        engine = create_async_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(do_run)
        finally:
            await engine.dispose()

    asyncio.run(main())
