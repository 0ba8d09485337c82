"""The ingest schema: this service's tables, and nobody else's."""

from __future__ import annotations

from aurora_shared.bus.tables import bus_tables
from aurora_shared.db import declarative_base

SCHEMA = "ingest"
STREAM = "ingest.records"

Base = declarative_base(SCHEMA)
BUS = bus_tables(Base.metadata)
