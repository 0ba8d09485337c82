"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_ingest.db import BUS, Base

__all__ = ["BUS", "Base"]
