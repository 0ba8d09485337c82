"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_analytics.db import BUS, Base
from aurora_analytics.workouts.orm import Workout

__all__ = ["BUS", "Base", "Workout"]
