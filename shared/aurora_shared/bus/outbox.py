"""Writing events: always through the caller's session, never straight to Redis.

The row rides in the same transaction as the state change, so there is no state
change without its event and no event without its state change.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_shared.bus.envelope import Envelope


async def enqueue(
    session: AsyncSession, outbox: Table, stream: str, events: Envelope | Sequence[Envelope]
) -> None:
    batch = [events] if isinstance(events, Envelope) else list(events)
    if not batch:
        return
    await session.execute(
        insert(outbox),
        [
            {
                "event_id": e.id,
                "stream": stream,
                "event_type": e.type,
                "user_id": e.user_id,
                "envelope": e.model_dump_json(),
            }
            for e in batch
        ],
    )
