"""Events this service reads and writes, as its own models of the contract.

The inbound models are dedup's reading of ingest's payloads (DESIGN.md §2); they
ignore fields they do not know, so ingest can evolve additively without a
lock-step release. A payload that breaks the contract raises, which sends the
event to the dead-letter stream where an operator can see it.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field, field_validator

from aurora_dedup.registers import RecordEvent, RecordIngested
from aurora_dedup.resolution.sports import normalize_sport

INGEST_STREAM: Final = "ingest.records"
WORKOUT_INGESTED: Final = "workout.ingested"
WORKOUT_REMOVED: Final = "workout.removed"
WORKOUT_RESOLVED: Final = "workout.resolved"
WORKOUT_UNRESOLVED: Final = "workout.unresolved"

MAX_DURATION_S: Final = 14 * 24 * 3600


class WorkoutIngested(RecordIngested):
    sport: str = Field(min_length=1, max_length=64)
    duration_s: float = Field(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)

    @field_validator("sport")
    @classmethod
    def _sport(cls, value: str) -> str:
        return normalize_sport(value)


class WorkoutRemoved(RecordEvent):
    pass


# An athlete changed a control of their timeline (DESIGN.md §2 addition):
# {user_id, kind, detail}; kind is one of CONTROL_KINDS.
TIMELINE_CONTROL_CHANGED: Final = "timeline.control.changed"
CONTROL_KINDS: Final = (
    "priorities.set",
    "priorities.reset",
    "link.created",
    "link.deleted",
)
