"""Which streams the analytics worker reads, and the handler of each event type."""

from __future__ import annotations

from aurora_analytics.workouts import service
from aurora_analytics.workouts.events import (
    TIMELINE_STREAM,
    WORKOUT_RESOLVED,
    WORKOUT_UNRESOLVED,
)
from aurora_shared.service import Subscription


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            TIMELINE_STREAM,
            {
                WORKOUT_RESOLVED: service.apply_resolved,
                WORKOUT_UNRESOLVED: service.apply_unresolved,
            },
        )
    ]
