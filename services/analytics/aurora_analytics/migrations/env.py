"""Alembic environment of the analytics schema (version table inside the schema)."""

import aurora_analytics.models  # noqa: F401  (registers every table on the metadata)
from aurora_analytics.db import SCHEMA, Base
from aurora_shared.migrations import run_env

run_env(Base.metadata, SCHEMA)
