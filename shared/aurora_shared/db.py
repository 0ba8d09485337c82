"""Async engine and session helpers.

The rule across Aurora: services only `flush`; the transaction is committed at the
edge, by the request dependency here or by the bus consumer wrapper, so that a
state change and its outbox row always commit (or roll back) together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from aurora_shared.config import sqlalchemy_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """Every table of a service lives in that service's own schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def declarative_base(schema: str) -> type[DeclarativeBase]:
    """A declarative base bound to one schema, so models cannot land elsewhere by accident."""

    class Base(DeclarativeBase):
        metadata = schema_metadata(schema)

    return Base


def make_engine(
    database_url: str, *, pool_size: int = 10, pre_ping: bool = True, **kwargs: Any
) -> AsyncEngine:
    """`pre_ping` costs three round trips per checkout with asyncpg (BEGIN; ;ROLLBACK), which
    a request should pay rather than fail on a connection PostgreSQL dropped; the bus loops
    retry such a failure in place, so they turn it off (see `Runtime.open`)."""
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        **kwargs,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: responses are serialised after the commit at the edge.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency that commits at the edge.

    FastAPI runs the exit code of a yield dependency before the response is sent,
    so a failed commit becomes an error response instead of a false success.
    """
    factory: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessionmaker
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
