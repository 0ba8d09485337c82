"""Storing provider payloads; callers own the transaction."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.raw.models import RawPayload


async def store_raw(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    provider: str,
    kind: str,
    external_id: str | None,
    body: bytes,
) -> uuid.UUID:
    """The payload's id; a body seen before for this user keeps its row and id.

    Hashing the exact bytes (not re-serialised JSON) makes a re-delivery a no-op
    and any real change a new row, so the history of what a provider said stays.
    """
    digest = hashlib.sha256(body).hexdigest()
    statement = (
        insert(RawPayload)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            provider=provider,
            kind=kind,
            external_id=external_id,
            sha256=digest,
            size_bytes=len(body),
            body=body,
        )
        .on_conflict_do_update(
            index_elements=["user_id", "sha256"], set_={"last_seen_at": func.now()}
        )
        .returning(RawPayload.id)
    )
    return (await session.execute(statement)).scalar_one()
