"""Which streams the dedup worker reads, and the handler of each event type."""

from __future__ import annotations

from aurora_dedup.timeline import service
from aurora_dedup.timeline.events import INGEST_STREAM, WORKOUT_INGESTED, WORKOUT_REMOVED
from aurora_shared.service import Subscription


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            INGEST_STREAM,
            {
                WORKOUT_INGESTED: service.apply_ingested,
                WORKOUT_REMOVED: service.apply_removed,
            },
        )
    ]
