"""The dedup schema: this service's tables, and nobody else's."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from aurora_shared.bus.tables import bus_tables
from aurora_shared.db import schema_metadata

SCHEMA = "dedup"
STREAM = "dedup.timeline"


class Base(DeclarativeBase):
    """A class, not `declarative_base()`'s return value, so mypy accepts it as a base."""

    metadata = schema_metadata(SCHEMA)


BUS = bus_tables(Base.metadata)
