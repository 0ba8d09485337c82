"""`/analytics/workouts`: the user's resolved workouts as analytics holds them.

`athlete_id` lets a coach (through an active grant) or an admin read an
athlete's workouts; anyone else gets the 404 of an unknown athlete.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_analytics.accounts.access import VIEWS, Caller
from aurora_analytics.workouts import service
from aurora_analytics.workouts.schemas import WorkoutPage
from aurora_shared.db import request_session

router = APIRouter(prefix="/analytics/workouts", tags=["analytics"])


@router.get("", response_model=WorkoutPage)
async def list_workouts(
    principal: Caller,
    session: Annotated[AsyncSession, Depends(request_session)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    athlete_id: Annotated[
        uuid.UUID | None, Query(description="whose workouts; default: the caller's own")
    ] = None,
) -> WorkoutPage:
    owner = await VIEWS.owner(
        session, principal, athlete_id, resource="/analytics/workouts", missing="athlete"
    )
    return await service.list_workouts(session, owner, limit=limit)
