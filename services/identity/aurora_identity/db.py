"""The identity schema: this service's tables, and nobody else's."""

from __future__ import annotations

from aurora_shared.bus.tables import bus_tables
from aurora_shared.db import declarative_base

SCHEMA = "identity"
STREAM = "identity.events"

Base = declarative_base(SCHEMA)
BUS = bus_tables(Base.metadata)
