"""The ingest schema: this service's tables, and nobody else's."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from aurora_shared.bus.tables import bus_tables
from aurora_shared.db import schema_metadata

SCHEMA = "ingest"
STREAM = "ingest.records"


class Base(DeclarativeBase):
    """A class statement rather than `declarative_base()`, so mypy accepts ORM subclasses."""

    metadata = schema_metadata(SCHEMA)


BUS = bus_tables(Base.metadata)
