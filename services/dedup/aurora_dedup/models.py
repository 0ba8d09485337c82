"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_dedup.accounts.orm import ACCOUNTS
from aurora_dedup.controls.orm import PriorityOverride, WorkoutLink
from aurora_dedup.db import BUS, Base
from aurora_dedup.health.orm import HealthDay, HealthRecord
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord

__all__ = [
    "ACCOUNTS",
    "BUS",
    "Base",
    "CanonicalWorkout",
    "HealthDay",
    "HealthRecord",
    "PriorityOverride",
    "SourceRecord",
    "WorkoutLink",
]
