"""Queueing provider work; callers own the transaction (a webhook's job commits with it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.jobs.models import ProviderJob


@dataclass(frozen=True)
class Job:
    """What a handler sees of its queue row: plain values, no ORM session attached."""

    id: uuid.UUID
    provider: str
    kind: str
    key: str
    user_id: uuid.UUID
    connection_id: uuid.UUID | None
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


class JobRescheduled(Exception):  # noqa: N818 (an outcome, not an error)
    """Raised by a handler that made progress and continues later (a backfill's next page)."""

    def __init__(self, not_before: datetime, payload: dict[str, Any] | None = None) -> None:
        super().__init__(f"continues at {not_before.isoformat()}")
        self.not_before = not_before
        self.payload = payload


class JobFailed(Exception):  # noqa: N818 (an outcome, not an error)
    """Raised when retrying cannot help (a payload no mapping accepts): failed at once."""


class JobCancelled(Exception):  # noqa: N818 (an outcome, not an error)
    """Raised when the job can never succeed as queued (connection revoked or degraded)."""


async def enqueue(
    session: AsyncSession,
    *,
    provider: str,
    kind: str,
    key: str,
    user_id: uuid.UUID,
    connection_id: uuid.UUID | None,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> None:
    """Queue once: a pending twin absorbs this request, keeping the earlier due time.

    The payload of the twin is kept: for a coalesced fetch it names the same
    object, and a backfill keeps the cursor it has reached.
    """
    statement = insert(ProviderJob).values(
        id=uuid.uuid4(),
        provider=provider,
        kind=kind,
        key=key,
        user_id=user_id,
        connection_id=connection_id,
        payload=payload or {},
        not_before=not_before if not_before is not None else func.now(),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["provider", "kind", "key"],
        index_where=text("status = 'pending'"),
        set_={
            "not_before": func.least(ProviderJob.not_before, statement.excluded.not_before),
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)


async def cancel_for_connection(session: AsyncSession, connection_id: uuid.UUID) -> int:
    """Pending work of a connection dies with it; a running job finds the connection gone."""
    result = await session.execute(
        update(ProviderJob)
        .where(ProviderJob.connection_id == connection_id, ProviderJob.status == "pending")
        .values(status="cancelled", last_error="connection revoked", updated_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
