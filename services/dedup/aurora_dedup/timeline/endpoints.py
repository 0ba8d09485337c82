"""`/timeline`: the user's canonical workouts, newest first, each with its reasons."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.timeline import service
from aurora_dedup.timeline.schemas import TimelineItem, TimelinePage
from aurora_shared.auth import Principal, current_principal
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

router = APIRouter(prefix="/timeline", tags=["timeline"])

PrincipalDep = Annotated[Principal, Depends(current_principal)]
SessionDep = Annotated[AsyncSession, Depends(request_session)]


@router.get("", response_model=TimelinePage)
async def list_timeline(
    principal: PrincipalDep,
    session: SessionDep,
    start_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="workouts starting at or after")
    ] = None,
    start_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="workouts starting before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TimelinePage:
    """Canonical workouts starting in [from, to), newest first; each says why it looks so."""
    if start_from is not None and start_to is not None and start_to < start_from:
        raise ProblemError(422, "'to' is before 'from'")
    return await service.timeline(
        session, principal.user_id, start_from=start_from, start_to=start_to, limit=limit
    )


@router.get("/{canonical_id}", response_model=TimelineItem)
async def get_timeline_item(
    canonical_id: uuid.UUID, principal: PrincipalDep, session: SessionDep
) -> TimelineItem:
    return await service.timeline_item(session, principal.user_id, canonical_id)
