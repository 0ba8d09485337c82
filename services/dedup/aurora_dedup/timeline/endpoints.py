"""`/timeline`: the user's canonical workouts, newest first, each with its reasons.

`athlete_id` lets a coach (through an active grant) or an admin read an
athlete's timeline; anyone else gets the 404 of an unknown athlete or workout.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.accounts.access import VIEWS, Caller
from aurora_dedup.timeline import views
from aurora_dedup.timeline.schemas import TimelinePage, WorkoutDetail
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

router = APIRouter(prefix="/timeline", tags=["timeline"])

SessionDep = Annotated[AsyncSession, Depends(request_session)]
AthleteId = Annotated[
    uuid.UUID | None, Query(description="whose timeline; default: the caller's own")
]


@router.get("", response_model=TimelinePage)
async def list_timeline(
    *,
    principal: Caller,
    session: SessionDep,
    start_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="workouts starting at or after")
    ] = None,
    start_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="workouts starting before")
    ] = None,
    sport: Annotated[
        str | None,
        Query(max_length=64, description="this sport and the sports below it, e.g. ride"),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="the previous page's next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    athlete_id: AthleteId = None,
) -> TimelinePage:
    """Canonical workouts starting in [from, to), newest first; each says why it looks so."""
    if start_from is not None and start_to is not None and start_to < start_from:
        raise ProblemError(422, "'to' is before 'from'")
    owner = await VIEWS.owner(
        session, principal, athlete_id, resource="/timeline", missing="athlete"
    )
    return await views.timeline(
        session,
        owner,
        start_from=start_from,
        start_to=start_to,
        sport=sport,
        cursor=cursor,
        limit=limit,
    )


async def _detail(
    canonical_id: uuid.UUID,
    principal: Caller,
    session: SessionDep,
    athlete_id: uuid.UUID | None,
    resource: str,
) -> WorkoutDetail:
    owner = await VIEWS.owner(session, principal, athlete_id, resource=resource, missing="workout")
    return await views.workout_detail(session, owner, canonical_id)


@router.get("/workouts/{canonical_id}", response_model=WorkoutDetail)
async def get_workout(
    canonical_id: uuid.UUID, principal: Caller, session: SessionDep, athlete_id: AthleteId = None
) -> WorkoutDetail:
    """One workout: its primary, each duplicate with its reason and overlap, and the
    source of every filled-in field."""
    resource = f"/timeline/workouts/{canonical_id}"
    return await _detail(canonical_id, principal, session, athlete_id, resource)


@router.get("/{canonical_id}", response_model=WorkoutDetail, deprecated=True)
async def get_timeline_item(
    canonical_id: uuid.UUID, principal: Caller, session: SessionDep, athlete_id: AthleteId = None
) -> WorkoutDetail:
    """The former address of `/timeline/workouts/{id}`, kept for existing clients."""
    resource = f"/timeline/{canonical_id}"
    return await _detail(canonical_id, principal, session, athlete_id, resource)
