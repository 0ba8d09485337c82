"""Alembic environment of the dedup schema (version table inside the schema)."""

import aurora_dedup.models  # noqa: F401  (registers every table on the metadata)
from aurora_dedup.db import SCHEMA, Base
from aurora_shared.migrations import run_env

run_env(Base.metadata, SCHEMA)
