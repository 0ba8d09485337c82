"""/records/*: the caller's own normalised records, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.accounts.access import Caller
from aurora_ingest.records import service
from aurora_ingest.records.rules import Kind
from aurora_ingest.records.schemas import RecordDetail, RecordOut, RecordPage
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

router = APIRouter(prefix="/records", tags=["records"])

Session = Annotated[AsyncSession, Depends(request_session)]
MAX_PAGE = 200


@router.get("", response_model=RecordPage)
async def list_records(
    *,
    principal: Caller,
    session: Session,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before: AwareDatetime | None = None,
    before_id: uuid.UUID | None = None,
) -> RecordPage:
    if before_id is not None and before is None:
        raise ProblemError(422, "before_id needs before")
    records = await service.list_records(
        session,
        user_id=principal.user_id,
        kind=kind,
        limit=limit,
        before=before,
        before_id=before_id,
    )
    last = records[-1] if len(records) == limit else None
    return RecordPage(
        items=[RecordOut.of(r) for r in records],
        next_before=last.start_at if last else None,
        next_before_id=last.id if last else None,
    )


@router.get("/{record_id}", response_model=RecordDetail)
async def get_record(
    record_id: uuid.UUID,
    principal: Caller,
    session: Session,
    samples: Annotated[bool, Query(description="include the per-second streams")] = False,
) -> RecordDetail:
    """Another user's record answers exactly like a missing one (404). Laps, splits
    and the like come with it; the streams only on request, as they can be large."""
    record = await service.get_record(session, user_id=principal.user_id, record_id=record_id)
    return RecordDetail.of_record(record, with_samples=samples)
