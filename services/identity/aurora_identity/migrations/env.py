"""Alembic environment of the identity schema (version table inside the schema)."""

import aurora_identity.models  # noqa: F401  (registers every table on the metadata)
from aurora_identity.db import SCHEMA, Base
from aurora_shared.migrations import run_env

run_env(Base.metadata, SCHEMA)
