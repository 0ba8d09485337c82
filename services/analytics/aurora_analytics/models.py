"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_analytics.accounts.orm import ACCOUNTS
from aurora_analytics.db import BUS, Base
from aurora_analytics.workouts.orm import Workout

__all__ = ["ACCOUNTS", "BUS", "Base", "Workout"]
