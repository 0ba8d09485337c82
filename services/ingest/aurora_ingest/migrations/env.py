"""Alembic environment of the ingest schema (version table inside the schema)."""

import aurora_ingest.models  # noqa: F401  (registers every table on the metadata)
from aurora_ingest.db import SCHEMA, Base
from aurora_shared.migrations import run_env

run_env(Base.metadata, SCHEMA)
